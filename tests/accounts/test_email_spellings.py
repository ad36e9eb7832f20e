"""One spelling per email: creation, login and the login throttle agree on it.

PostgreSQL's ``UPPER()`` folds the dotless ``ı`` to ``I``; Python's ``lower()`` does not.
When the lookup matched with one and the throttle keyed on the other, ``rıta@…`` got
fresh attempts at ``rita@…``'s locked account, and its success cleared the lockout.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from portal.accounts.addresses import normalise_email
from portal.accounts.throttle import login_username
from portal.tenants import invitations
from portal.tenants.models import Membership
from tests.conftest import PASSWORD, make_user

RITA = "rita@alpha.example"
# Spellings that are the same address once normalised...
SAME = [
    "RITA@alpha.example",
    "ｒｉｔａ@alpha.example",
    "rita@ALPHA.example",
    " Rita@Alpha.Example ",
]
# ...and ones that are not, though a database's case-insensitive match may think so.
OTHER = ["rıta@alpha.example", "RİTA@alpha.example"]


def login(client, email, password, ip="10.0.0.1"):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def rita(db):
    return make_user(RITA)


@pytest.fixture
def locked_out(client, rita, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, RITA, "wrong")
    assert login(client, RITA, PASSWORD).status_code == 429
    return rita


def test_it_normalises_with_nfkc_and_case_folding():
    assert normalise_email("ｒｉｔａ@ALPHA.example") == RITA
    assert normalise_email("Straße@x.org") == "strasse@x.org"
    assert normalise_email("\u212aelvin@x.org") == "kelvin@x.org"  # the Kelvin sign
    assert normalise_email("  Bob@Example.ORG\u3000") == "bob@example.org"
    assert normalise_email("rıta@alpha.example") == "rıta@alpha.example"  # not an i


@given(st.text())
def test_normalising_twice_changes_nothing(value):
    once = normalise_email(value)
    assert normalise_email(once) == once


@pytest.mark.parametrize("spelling", SAME)
def test_a_spelling_of_the_same_address_shares_the_lockout(client, locked_out, spelling):
    assert login(client, spelling, PASSWORD).status_code == 429
    assert login(client, RITA, PASSWORD).status_code == 429


@pytest.mark.parametrize("spelling", OTHER)
def test_another_address_gets_no_attempts_at_a_locked_account(client, locked_out, spelling):
    response = login(client, spelling, PASSWORD)
    assert response.status_code == 200  # a wrong (or invalid) address, not a way in
    assert client.get(reverse("home")).status_code == 302  # not logged in
    assert login(client, RITA, PASSWORD).status_code == 429  # and the lockout holds


def test_the_account_of_a_look_alike_address_logging_in_does_not_clear_the_lockout(
    client, locked_out
):
    make_user("rıta@alpha.example")
    assert login(client, "rıta@alpha.example", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    assert login(client, RITA, PASSWORD).status_code == 429


@pytest.mark.parametrize("spelling", SAME)
def test_it_logs_in_with_any_spelling_of_the_address(client, rita, spelling):
    assert login(client, spelling, PASSWORD).status_code == 302


def test_the_throttle_keys_on_the_same_spelling_as_the_lookup():
    request = RequestFactory().post("/accounts/login/", {"username": "ＲＩＴＡ@alpha.example"})
    assert login_username(request, None) == RITA
    for spelling in SAME:
        assert login_username(request, {"username": spelling}) == RITA
    assert login_username(request, {"username": "rıta@alpha.example"}) != RITA


def test_the_lookup_is_exact_on_the_normalised_address(rita):
    users = get_user_model().objects
    assert users.get_by_natural_key("ｒｉｔａ@Alpha.Example") == rita
    for spelling in OTHER:
        with pytest.raises(get_user_model().DoesNotExist):
            users.get_by_natural_key(spelling)


def test_login_looks_the_account_up_by_equality_never_with_the_databases_case_rules(client, rita):
    # PostgreSQL's UPPER() and SQLite's LIKE fold case by rules of their own (and by the
    # database's collation): the address is normalised in Python and compared with "=".
    with CaptureQueriesContext(connection) as queries:
        assert login(client, "Rita@Alpha.example", PASSWORD).status_code == 302
    lookups = [q["sql"] for q in queries if 'FROM "accounts_user"' in q["sql"]]
    assert lookups
    for sql in lookups:
        assert "UPPER(" not in sql and " LIKE " not in sql, sql


def test_every_way_of_making_an_account_stores_the_normalised_address(
    client, northside, monkeypatch
):
    users = get_user_model().objects
    assert users.create_user("ＡＢ@Example.org", "x").email == "ab@example.org"
    monkeypatch.setenv("PORTAL_MEMBER_PASSWORD", "a-long-enough-password")
    call_command(
        "member",
        "add",
        "northside",
        "Straße@Example.org",
        "--role",
        "reviewer",
        "--no-input",
        stdout=None,
    )
    assert users.filter(email="strasse@example.org").exists()
    invitation, _ = invitations.invite(northside, "ＤＡＮＡ@Example.org", "reviewer", None)
    assert invitation.email == "dana@example.org"
    user = users.create_user("x@example.org", "x")
    user.email = "Kelvin\u212a@Example.org"
    user.save()
    assert users.filter(email="kelvink@example.org").exists()


def test_the_member_command_finds_an_existing_account_by_another_spelling(rita, northside):
    call_command(
        "member",
        "add",
        "northside",
        "ＲＩＴＡ@alpha.example",
        "--role",
        "reviewer",
        "--no-input",
        stdout=None,
    )
    assert Membership.objects.get(institution=northside).user == rita
    assert get_user_model().objects.count() == 1


def test_the_admin_refuses_another_spelling_of_a_taken_address(client, rita):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    form = {
        "usable_password": "true",
        "password1": "a-long-passphrase",
        "password2": "a-long-passphrase",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    response = client.post(
        reverse("admin:accounts_user_add"), {"email": "ＲＩＴＡ@Alpha.example", **form}
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    response = client.post(reverse("admin:accounts_user_add"), {"email": "New@Exämple.org", **form})
    assert response.status_code == 302
    assert get_user_model().objects.filter(email="new@exämple.org").exists()
