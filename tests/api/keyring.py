"""API keys for tests: a key acting as a user in one of their institutions."""

from portal.api import keys
from portal.tenants.models import Membership


def key_for(user, institution=None, *, scope="write", name="test key", **kwargs) -> str:
    """The full text of a new key for ``user`` in ``institution`` (a slug or an
    Institution; by default their first by name, where a session would start)."""
    memberships = Membership.objects.select_related("institution", "user").filter(user=user)
    if institution is not None:
        slug = getattr(institution, "slug", institution)
        memberships = memberships.filter(institution__slug=slug)
    membership = memberships.order_by("institution__name").first()
    assert membership is not None, f"{user} is not a member of {institution}"
    _key, text = keys.create_key(membership, name=name, scope=scope, **kwargs)
    return text


def bearer(text: str) -> dict:
    return {"Authorization": f"Bearer {text}"}
