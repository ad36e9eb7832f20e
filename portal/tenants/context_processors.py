from portal.tenants import navigation


def institutions(request):
    """What the page header needs: the institution switcher, and the pages integrations
    add to the navigation (``portal.tenants.navigation``)."""
    match = getattr(request, "resolver_match", None)
    here = match.url_name if match else ""
    pages = [(page, page.is_current(here)) for page in navigation.registered()]
    return {
        "current_membership": getattr(request, "membership", None),
        "current_institution": getattr(request, "institution", None),
        "my_memberships": getattr(request, "memberships", []),
        "nav_admin_pages": [(p, current) for p, current in pages if p.admin],
        "nav_member_pages": [(p, current) for p, current in pages if not p.admin],
    }
