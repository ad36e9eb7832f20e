"""The institution's Clarius links over the API (integrations/clarius/api_views.py):
administrators only, tenant-scoped, unlinking with the integration's own rule."""

import pytest
from django.urls import reverse

from integrations.clarius.models import ClariusLink


@pytest.fixture
def links(trio, northside, southside):
    alice, bob, charlie = trio
    return {
        "bob": ClariusLink.objects.create(
            token="token-of-bob-123456", user=bob, institution=northside, state="confirmed"
        ),
        "charlie": ClariusLink.objects.create(
            token="token-of-charlie-654321", user=charlie, institution=southside, state="confirmed"
        ),
    }


def test_an_admin_lists_the_links_of_the_institution_with_masked_tokens(api, links):
    response = api("alice").get(reverse("api-clarius-links"))
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["id"] == links["bob"].pk
    assert row["user"]["email"] == "bob@example.org"
    assert row["state"] == "confirmed"
    assert "token-of-bob-123456" not in response.content.decode()


def test_an_admin_unlinks_a_members_account(api, links):
    response = api("alice").delete(reverse("api-clarius-link", args=[links["bob"].pk]))
    assert response.status_code == 200
    assert response.json()["state"] == "revoked"
    links["bob"].refresh_from_db()
    assert links["bob"].state == "revoked" and links["bob"].ended_at is not None


def test_another_institutions_link_is_a_404(api, links):
    url = reverse("api-clarius-link", args=[links["charlie"].pk])
    assert api("alice").delete(url).status_code == 404
    assert api("alice").get(url).status_code == 404
    links["charlie"].refresh_from_db()
    assert links["charlie"].state == "confirmed"


@pytest.mark.parametrize("who", [("bob", None), ("alice", "southside")])
def test_anyone_but_an_admin_gets_a_404(api, links, who):
    client = api(*who)
    assert client.get(reverse("api-clarius-links")).status_code == 404
    assert client.delete(reverse("api-clarius-link", args=[links["bob"].pk])).status_code == 404
    links["bob"].refresh_from_db()
    assert links["bob"].state == "confirmed"


def test_a_bad_cursor_is_400(api, links):
    response = api("alice").get(reverse("api-clarius-links"), {"cursor": "n\x00%FF"})
    assert response.status_code == 400
