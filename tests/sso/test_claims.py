"""The provider's claims mapped to an account and memberships, hostile ones included: a
claim the portal cannot read refuses the sign-in with a message and writes nothing; no
claim ever makes a superuser. Runs on SQLite and on PostgreSQL (TEST_POSTGRES=1)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from portal.exams.models import AuditEvent
from portal.sso import claims as claim_rules
from portal.sso.backends import SsoBackend
from portal.sso.claims import ClaimError
from portal.sso.models import SsoIdentity
from portal.tenants.models import Membership

ISSUER = "https://id.example.org"

pytestmark = pytest.mark.django_db


@pytest.fixture
def mapped(settings):
    settings.PORTAL_SSO_ENABLED = True
    settings.PORTAL_OIDC_ISSUER = ISSUER
    settings.PORTAL_OIDC_INSTITUTION_CLAIM = "institutions"
    settings.PORTAL_OIDC_ROLE_CLAIM = "roles"


def sign_in(claims, sub="subject-1", iss=ISSUER):
    request = RequestFactory().get("/accounts/sso/callback/")
    payload = {"iss": iss, "sub": sub, "aud": "portal"}
    user = SsoBackend().sign_in(request, payload, {"sub": sub, **claims})
    return user, getattr(request, "sso_refusal", None)


def person(**claims):
    return {"email": "dora@example.org", "email_verified": True, **claims}


def roles_of(user):
    return dict(Membership.objects.filter(user=user).values_list("institution__slug", "role"))


def test_a_new_person_gets_an_account_and_the_named_memberships(mapped, northside, southside):
    user, refusal = sign_in(
        person(
            name="Dora\x00 Doctor\u202e",
            institutions=["northside", "SouthSide", "unknown-place"],
            roles={"northside": "Admin", "southside": "clinician", "unknown-place": "admin"},
            is_superuser=True,
            is_staff=True,
        )
    )
    assert refusal is None
    assert user.email == "dora@example.org"
    assert user.full_name == "Dora Doctor"
    assert not user.is_superuser and not user.is_staff and not user.has_usable_password()
    assert roles_of(user) == {"northside": "admin", "southside": "clinician"}
    assert SsoIdentity.objects.get(user=user).subject == "subject-1"
    changes = AuditEvent.objects.filter(user=user, action=AuditEvent.Action.CHANGE_ROLE)
    assert {e.institution.slug for e in changes} == {"northside", "southside"}
    assert all(e.detail["method"] == "sso" for e in changes)


def test_memberships_follow_the_claims_at_each_sign_in(mapped, northside, southside):
    user, _ = sign_in(person(institutions=["northside"], roles="reviewer"))
    assert roles_of(user) == {"northside": "reviewer"}
    # The email claim changing later does not matter: the subject names the person.
    again, _ = sign_in(
        {"email": "other@example.org", "institutions": "southside", "roles": "admin"}
    )
    assert again == user
    assert roles_of(user) == {"southside": "admin"}
    assert AuditEvent.objects.filter(
        user=user, action=AuditEvent.Action.REMOVE_MEMBER, institution=northside
    ).exists()


def test_without_claim_names_memberships_are_the_administrators(settings, bob, southside):
    settings.PORTAL_SSO_ENABLED = True
    settings.PORTAL_OIDC_ISSUER = ISSUER
    settings.PORTAL_OIDC_INSTITUTION_CLAIM = ""
    settings.PORTAL_OIDC_ROLE_CLAIM = ""
    user, refusal = sign_in(
        {
            "email": "bob@example.org",
            "email_verified": True,
            "institutions": ["southside"],
            "roles": "admin",
        }
    )
    assert refusal is None and user == bob
    assert roles_of(bob) == {"northside": "reviewer"}


def test_only_a_role_claim_changes_roles_not_memberships(settings, bob, southside):
    settings.PORTAL_SSO_ENABLED = True
    settings.PORTAL_OIDC_ISSUER = ISSUER
    settings.PORTAL_OIDC_INSTITUTION_CLAIM = ""
    settings.PORTAL_OIDC_ROLE_CLAIM = "roles"
    user, refusal = sign_in(
        {"email": "bob@example.org", "email_verified": True, "roles": "clinician"}
    )
    assert refusal is None
    assert roles_of(bob) == {"northside": "clinician"}


def test_an_unverified_address_is_never_linked(mapped, bob):
    user, refusal = sign_in({"email": "bob@example.org", "email_verified": False})
    assert user is None and "verified email" in refusal
    user, refusal = sign_in({"email": "bob@example.org", "email_verified": "yes"})
    assert user is None
    assert not SsoIdentity.objects.exists()
    assert get_user_model().objects.count() == 1


def test_a_superuser_or_staff_account_is_not_linked_by_address(mapped, db):
    get_user_model().objects.create_superuser("root@example.org", "pw-root-1234")
    user, refusal = sign_in({"email": "root@example.org", "email_verified": True})
    assert user is None and "superuser" in refusal
    assert not SsoIdentity.objects.exists()


def test_a_second_identity_for_a_linked_account_is_refused(mapped, bob):
    assert sign_in({"email": "bob@example.org", "email_verified": True}, sub="one")[0] == bob
    user, refusal = sign_in({"email": "bob@example.org", "email_verified": True}, sub="two")
    assert user is None and "another identity" in refusal


def test_a_disabled_account_is_refused_and_audited(mapped, bob):
    bob.is_active = False
    bob.save()
    user, refusal = sign_in(
        person(email="bob@example.org", institutions=["northside"], roles="admin")
    )
    assert user is None and "disabled" in refusal
    assert not SsoIdentity.objects.exists()
    assert roles_of(bob) == {"northside": "reviewer"}
    assert AuditEvent.objects.filter(
        user=bob, action=AuditEvent.Action.LOGIN_FAILED, detail__method="sso"
    ).exists()


def test_the_last_administrator_is_not_removed_and_nothing_is_written(mapped, alice, southside):
    user, refusal = sign_in(
        {
            "email": "alice@example.org",
            "email_verified": True,
            "institutions": ["southside"],
            "roles": "admin",
        }
    )
    assert user is None and "without an administrator" in refusal
    assert roles_of(alice) == {"northside": "admin", "southside": "clinician"}
    assert not SsoIdentity.objects.exists()


def test_the_userinfo_answer_must_be_about_the_token_subject(mapped, northside):
    request = RequestFactory().get("/")
    user = SsoBackend().sign_in(
        request, {"iss": ISSUER, "sub": "a"}, {"sub": "b", **person(institutions=["northside"])}
    )
    assert user is None and request.sso_refusal


HOSTILE = [
    {"institutions": 5},
    {"institutions": {"northside": True}},
    {"institutions": [["northside"]]},
    {"institutions": [1, 2]},
    {"institutions": ["north\x00side"]},
    {"institutions": ["northside" * 2000]},
    {"institutions": ["../northside"]},
    {"institutions": ["<script>"]},
    {"institutions": ["x"] * 5000},
    {"institutions": ["northside"], "roles": 5},
    {"institutions": ["northside"], "roles": ["admin"]},
    {"institutions": ["northside"], "roles": "superuser"},
    {"institutions": ["northside"], "roles": "admin\x00"},
    {"institutions": ["northside"], "roles": "a" * 100_000},
    {"institutions": ["northside"], "roles": {"northside": 5}},
    {"institutions": ["northside"], "roles": {"north\x00side": "admin"}},
    {"institutions": ["northside"], "roles": {"southside": "admin"}},
    {"institutions": ["northside"]},
]


@pytest.mark.parametrize("claims", HOSTILE)
def test_hostile_membership_claims_are_refused_cleanly(mapped, northside, southside, claims):
    users = get_user_model().objects.count()
    user, refusal = sign_in(person(**claims))
    assert user is None
    assert refusal and "identity provider" in refusal
    assert "\x00" not in refusal and len(refusal) < 200
    assert get_user_model().objects.count() == users
    assert not Membership.objects.exists() and not SsoIdentity.objects.exists()


@pytest.mark.parametrize(
    "sub",
    ["", "a\x00b", "x" * 256, 12345, None, ["a"], {"a": 1}, "caf\u00e9", "a b", "\u202eabc"],
)
def test_hostile_subjects_are_refused(mapped, sub):
    request = RequestFactory().get("/")
    user = SsoBackend().sign_in(request, {"iss": ISSUER, "sub": sub}, {"sub": sub, **person()})
    assert user is None and "did not say who you are" in request.sso_refusal
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize(
    "email",
    [
        "dora\x00@example.org",
        "d" * 300 + "@example.org",
        42,
        ["dora@example.org"],
        "not an address",
        "dora@exa\u202emple.org",
    ],
)
def test_hostile_addresses_make_no_account(mapped, email):
    user, refusal = sign_in({"email": email, "email_verified": True})
    assert user is None and "verified email" in refusal
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("iss", ["", None, 5, "https://id.example.org/\x00", "h" * 600])
def test_hostile_issuers_are_refused(mapped, iss):
    user, refusal = sign_in(person(), iss=iss)
    assert user is None and refusal


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)


@pytest.mark.hostile
@given(institutions=JSON | st.lists(st.sampled_from(["northside", "southside", "x"])), roles=JSON)
def test_any_claim_value_is_mapped_or_refused_never_an_error(
    mapped, northside, southside, institutions, roles
):
    try:
        slugs = claim_rules.institution_slugs({"institutions": institutions}, "institutions")
        claim_rules.roles({"roles": roles}, "roles", slugs)
    except ClaimError:
        pass
    user, refusal = sign_in(person(institutions=institutions, roles=roles))
    assert (user is None) == (refusal is not None)
    if user is not None:
        assert set(roles_of(user)) <= {"northside", "southside"}
        assert set(roles_of(user).values()) <= {"admin", "reviewer", "clinician"}
        assert not user.is_superuser
        Membership.objects.filter(user=user).delete()
        SsoIdentity.objects.all().delete()
        user.delete()
