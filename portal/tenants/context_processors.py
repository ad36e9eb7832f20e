def institutions(request):
    """What the page header needs for the institution switcher."""
    return {
        "current_membership": getattr(request, "membership", None),
        "current_institution": getattr(request, "institution", None),
        "my_memberships": getattr(request, "memberships", []),
    }
