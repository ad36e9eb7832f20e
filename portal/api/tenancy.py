"""The current institution for API requests.

Session requests already carry it (see the tenants middleware). A request authenticated
by token is only known to DRF, after the middleware ran; it works in its user's first
institution, or the one named by the ``X-Portal-Institution`` header (a slug).
"""

from portal.tenants.middleware import SESSION_KEY, memberships_of, pick_membership


class InstitutionFromRequestMixin:
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        django_request = request._request
        if getattr(django_request, "membership", None) is None and request.user.is_authenticated:
            memberships = memberships_of(request.user)
            slug = request.headers.get("X-Portal-Institution")
            chosen = next((m for m in memberships if m.institution.slug == slug), None)
            if chosen is None:
                chosen = pick_membership(memberships, request.session.get(SESSION_KEY))
            django_request.memberships = memberships
            django_request.membership = chosen
            django_request.institution = chosen.institution if chosen else None
        request.membership = django_request.membership
        request.institution = django_request.institution
