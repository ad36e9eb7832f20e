import datetime

from django.utils import timezone

from portal.tenants.models import Membership
from portal.tenants.timezones import default_zone, zone_of

# The API answers in UTC whatever the caller's institution (DRF's DateTimeField writes
# in the current zone): only pages and their exports work in the institution's zone.
API_PREFIX = "/api/"
# Django admin lists every institution's rows: it stays in the installation's zone.
ADMIN_PREFIX = "/admin/"

SESSION_KEY = "current_institution_id"


def memberships_of(user):
    """The user's memberships in active institutions, by institution name."""
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user=user, institution__is_active=True)
        .select_related("institution")
        .order_by("institution__name")
    )


def pick_membership(memberships, chosen_institution_id):
    """The membership picked in the session, else the first one, else ``None``."""
    for membership in memberships:
        if membership.institution_id == chosen_institution_id:
            return membership
    return memberships[0] if memberships else None


class CurrentInstitutionMiddleware:
    """Sets ``request.memberships``, ``request.membership`` and ``request.institution``.

    The current institution is the one the user picked with the switcher (kept in the
    session) as long as they are still a member of it and it is active. Its time zone is
    the request's current one (pages show times in it); without an institution the
    installation's default, as in Django admin (every institution's rows); on the API, UTC.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.memberships = memberships_of(request.user)
        request.membership = pick_membership(request.memberships, request.session.get(SESSION_KEY))
        request.institution = request.membership.institution if request.membership else None
        if request.path_info.startswith(API_PREFIX):
            timezone.activate(datetime.UTC)
        elif request.path_info.startswith(ADMIN_PREFIX):
            timezone.activate(default_zone())
        else:
            timezone.activate(zone_of(request.institution))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
