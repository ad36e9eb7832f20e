"""The current institution for API requests.

Session requests already carry it (see the tenants middleware). A request made with an
API key (``portal.api.authentication``) is only known to DRF, after the middleware ran;
it works in the key's institution, as the key's member (with that member's current
role), and nowhere else.

A session request may name another of the user's institutions with the
``X-Portal-Institution`` header (a slug). A header naming an institution the user is not
a member of, or, for a key, any institution but the key's own, is refused with a 403,
never answered from another institution: a client that asked for one institution's data
must not receive another's. The answer is the same whether the named institution exists
or not, so it reveals nothing about other tenants.
"""

from rest_framework.exceptions import PermissionDenied

from portal.tenants.middleware import SESSION_KEY, memberships_of, pick_membership
from portal.text import clean_text

HEADER = "X-Portal-Institution"


class InstitutionFromRequestMixin:
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        django_request = request._request
        named = request.headers.get(HEADER)
        known = getattr(django_request, "membership", None) is not None
        key = getattr(django_request, "api_key", None)
        if key is not None and request.auth is key:
            membership = key.membership
            if named is not None and named.strip() != key.institution.slug:
                refuse(named, "The API key is", "a key works in its own institution only")
            django_request.memberships = [membership]
            django_request.membership = membership
            django_request.institution = key.institution
        elif request.user.is_authenticated and (named is not None or not known):
            # A session request's memberships were loaded by the middleware already.
            memberships = django_request.memberships if known else memberships_of(request.user)
            if named is not None:
                chosen = named_membership(memberships, named)
            else:
                chosen = pick_membership(memberships, request.session.get(SESSION_KEY))
            django_request.memberships = memberships
            django_request.membership = chosen
            django_request.institution = chosen.institution if chosen else None
        request.membership = django_request.membership
        request.institution = django_request.institution


def named_membership(memberships, slug: str):
    """The membership in the institution ``slug``; ``PermissionDenied`` if there is none."""
    chosen = next((m for m in memberships if m.institution.slug == slug.strip()), None)
    if chosen is None:
        refuse(slug, "You are", "send the slug of one of your institutions")
    return chosen


def refuse(slug: str, who: str, advice: str):
    shown = clean_text(slug, max_length=60)
    raise PermissionDenied(
        f'{who} not a member of institution "{shown}" (named by the {HEADER} header): '
        f"{advice}, or no header for the default one."
    )
