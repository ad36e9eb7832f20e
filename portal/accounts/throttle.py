def login_username(request, credentials):
    """The username django-axes counts failures against: the email, case-folded.

    Without folding, ``Bob@x.org`` and ``bob@x.org`` would each get their own allowance.
    """
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return value.strip().lower() or None


def client_ip(request):
    """The address of the person making the request, behind ``PORTAL_TRUSTED_PROXY_COUNT`` proxies.

    Each trusted proxy appends the address it saw to X-Forwarded-For, so the client is
    that many entries from the right; anything further left could be forged.
    """
    from django.conf import settings

    proxies = settings.PORTAL_TRUSTED_PROXY_COUNT
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR") or None
