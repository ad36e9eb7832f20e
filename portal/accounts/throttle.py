import ipaddress

from portal.accounts.addresses import normalise_email
from portal.text import clean_text


def login_username(request, credentials):
    """The username django-axes counts failures against: the normalised email.

    The same normalisation as the account lookup, so every spelling that could log into
    an account (``Bob@x.org``, fullwidth ``ｂｏｂ@x.org``) shares that account's
    allowance, and a success resets only the account's own count: axes passes the
    account's stored address as ``credentials`` then, and it normalises to the same key.
    """
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    # Bounded and storable whatever was typed: it is written to axes' table (no valid
    # address is longer, or holds a control character).
    return clean_text(normalise_email(str(value)), max_length=254) or None


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
        if len(hops) >= proxies and _is_ip(hops[-proxies]):
            return hops[-proxies]
    remote = request.META.get("REMOTE_ADDR") or ""
    return remote if _is_ip(remote) else None


def _is_ip(value: str) -> bool:
    """Whether a value is an address; anything else (a misconfigured proxy count, a forged
    entry, a server's odd REMOTE_ADDR) is not written to the throttle's, the audit log's
    and the session list's address columns."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return "%" not in value  # a zone (fe80::1%eth0) is not an address PostgreSQL stores
