"""The role rule for staff pages, on top of the tenant rule."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from portal.tenants.models import Membership

# Who reviews, signs and is assigned exams: the one list, wherever a role is checked.
REVIEWING_ROLES = (Membership.Role.ADMIN, Membership.Role.REVIEWER)


def is_admin(request) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.role == Membership.Role.ADMIN


def admin_required(view):
    """Institution administrators of the current institution only; anyone else gets a 404.

    A 404 rather than a 403, like another institution's object: the page's existence is
    nothing a reviewer or clinician needs confirmed.
    """

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_admin(request):
            raise Http404("Institution administrators only")
        return view(request, *args, **kwargs)

    return wrapped
