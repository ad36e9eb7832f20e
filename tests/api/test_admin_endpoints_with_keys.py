"""The administrators' endpoints (members, invitations, audit log, Clarius links) with API
keys: the alice/bob/charlie matrix, as the session tests check it for the browser."""

import pytest
from django.test import Client
from django.urls import reverse

from integrations.clarius.models import ClariusLink
from portal.tenants.models import Membership
from tests.api.keyring import bearer, key_for

LISTS = ["api-member-list", "api-invitation-list", "api-audit-log", "api-clarius-links"]


@pytest.fixture
def world(trio, northside, southside, settings):
    settings.PORTAL_API_KEY_RATE = "100000/min"
    alice, bob, charlie = trio
    ClariusLink.objects.create(
        token="token-of-bob-123456", user=bob, institution=northside, state="confirmed"
    )
    ClariusLink.objects.create(
        token="token-of-charlie-654321", user=charlie, institution=southside, state="confirmed"
    )
    return trio


def get(name, key, **params):
    return Client().get(
        reverse(name), params, **{"HTTP_" + k.upper(): v for k, v in bearer(key).items()}
    )


@pytest.mark.parametrize("name", LISTS)
def test_an_admins_key_sees_its_own_institution_only(world, name):
    alice, bob, charlie = world
    for user, own, other in [
        (alice, "northside", "southside"),
        (charlie, "southside", "northside"),
    ]:
        response = get(name, key_for(user, own))
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode()
        foreign = {"northside": "bob@example.org", "southside": "charlie@example.org"}[other]
        if user is alice:
            assert "charlie@example.org" not in text
        else:
            assert "bob@example.org" not in text
        assert foreign not in text


@pytest.mark.parametrize("name", LISTS)
def test_a_reviewers_key_gets_nothing_of_the_administration(world, name):
    alice, bob, charlie = world
    assert get(name, key_for(bob, "northside")).status_code == 404


@pytest.mark.parametrize("name", LISTS)
def test_a_key_cannot_name_another_institution(world, name):
    alice, bob, charlie = world
    key = key_for(alice, "northside")
    response = Client().get(
        reverse(name), HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_X_PORTAL_INSTITUTION="southside"
    )
    assert response.status_code == 403


def test_a_read_key_invites_nobody(world):
    alice, bob, charlie = world
    key = key_for(alice, "northside", scope="read")
    response = Client().post(
        reverse("api-invitation-list"),
        {"email": "newcomer@example.org", "role": "clinician"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(user__email="newcomer@example.org").exists()
