"""Reading the provider's claims: who the person is, and where they belong in which role.

Claims come from outside the portal: each is checked for its type, length and characters
before it is used, and one the portal cannot read refuses the sign-in (``ClaimError``,
whose message is shown to the person and never repeats the value). Institutions named
by a slug the portal does not know are left out, and logged.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from portal.accounts.addresses import normalise_email
from portal.text import clean_text, has_unstorable

# OpenID Connect: "sub" is at most 255 ASCII characters.
SUBJECT_LIMIT = 255
ISSUER_LIMIT = 500
EMAIL_LIMIT = 254
NAME_LIMIT = 150
# More institutions than anyone belongs to; a longer list is not a list of memberships.
INSTITUTIONS_LIMIT = 100
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,60}")
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
ROLES = ("admin", "reviewer", "clinician")


class ClaimError(Exception):
    """The provider's claims cannot be used to sign in; the message says what to do."""


def subject(claims) -> str:
    value = claims.get("sub") if isinstance(claims, dict) else None
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= SUBJECT_LIMIT
        or not _PRINTABLE_ASCII.fullmatch(value)
    ):
        raise ClaimError("The identity provider did not say who you are.")
    return value


def verified_email(claims) -> str | None:
    """The address, normalised, when the provider says it is verified; otherwise None."""
    verified = claims.get("email_verified")
    # Some providers send the flag as the string "true".
    if not (verified is True or (isinstance(verified, str) and verified.lower() == "true")):
        return None
    value = claims.get("email")
    if not isinstance(value, str) or len(value) > EMAIL_LIMIT or has_unstorable(value):
        return None
    # No controls or direction overrides: an address that shows as another is no address.
    if clean_text(value) != value:
        return None
    email = normalise_email(value)
    try:
        validate_email(email)
    except ValidationError:
        return None
    return email


def full_name(claims) -> str:
    value = claims.get("name")
    if not isinstance(value, str):
        return ""
    return " ".join(clean_text(value[:1000]).split())[:NAME_LIMIT]


def institution_slugs(claims, claim_name: str) -> list[str] | None:
    """The slugs the institution claim names, in order, without repeats; ``None`` when
    no institution claim is configured (memberships are then the administrators')."""
    if not claim_name:
        return None
    value = claims.get(claim_name)
    if value is None:
        return []  # providers leave an empty list out
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > INSTITUTIONS_LIMIT:
        raise ClaimError(
            "The identity provider sent a list of institutions the portal cannot read."
        )
    slugs = []
    for item in value:
        if not isinstance(item, str) or not _SLUG.fullmatch(item):
            raise ClaimError(
                "The identity provider sent a list of institutions the portal cannot read."
            )
        slug = item.lower()
        if slug not in slugs:
            slugs.append(slug)
    return slugs


def _role(value) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ROLES:
        raise ClaimError(
            "The identity provider sent a role the portal does not know "
            "(it knows admin, reviewer and clinician)."
        )
    return value.strip().lower()


def roles(claims, claim_name: str, slugs: list[str]) -> dict[str, str] | None:
    """The role in each of ``slugs``; ``None`` when no role claim is configured.

    The claim is one role for every institution (``"reviewer"``) or one per institution
    (``{"northside": "admin", "southside": "clinician"}``)."""
    if not claim_name:
        return None
    value = claims.get(claim_name)
    if not slugs:
        return {}
    if value is None:
        raise ClaimError("The identity provider did not say what your role is.")
    if isinstance(value, dict):
        if len(value) > INSTITUTIONS_LIMIT:
            raise ClaimError("The identity provider sent roles the portal cannot read.")
        by_slug = {}
        for key, role in value.items():
            if not isinstance(key, str) or not _SLUG.fullmatch(key):
                raise ClaimError("The identity provider sent roles the portal cannot read.")
            by_slug[key.lower()] = role
        missing = [slug for slug in slugs if slug not in by_slug]
        if missing:
            raise ClaimError("The identity provider did not say your role in every institution.")
        return {slug: _role(by_slug[slug]) for slug in slugs}
    role = _role(value)
    return dict.fromkeys(slugs, role)
