def login_username(request, credentials):
    """The username django-axes counts failures against: the email, case-folded.

    Without folding, ``Bob@x.org`` and ``bob@x.org`` would each get their own allowance.
    """
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return value.strip().lower() or None
