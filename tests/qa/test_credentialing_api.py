# ruff: noqa: F811 (the fixtures imported from credentialing_fixtures are arguments here)
"""The credentialing API: the pages' rules (own progress for everyone, everyone's for QA
leads and administrators, grants for administrators), tenancy, hostile bodies."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.qa import credentialing
from portal.qa.models import Credential
from tests.qa.credentialing_fixtures import (  # noqa: F401
    exam_type,
    people,
    reviewed,
    set_required,
    signed_in,
)

LIST = "api-qa-credentialing-list"


@pytest.fixture
def history(people, northside):
    lung = exam_type(northside)
    set_required(lung, 2)
    for passed in (True, False, None):
        reviewed(northside, people["dana"], lung, passed=passed, scored_by=people["lee"])
    for _ in range(2):
        last = reviewed(northside, people["bob"], lung, passed=True, scored_by=people["lee"])
    credentialing.record_if_reached(last, last.scored_at)
    return {**people, "lung": lung}


def send(client, method, url, data=None):
    body = "" if data is None else json.dumps(data)
    return getattr(client, method)(url, body, content_type="application/json")


def lung_of(document):
    return next(t for t in document["exam_types"] if t["exam_type"]["code"] == "lung")


@pytest.mark.parametrize("name", ["alice", "lee"])
def test_leads_and_admins_list_everyone(history, signed_in, name):
    response = signed_in(name).get(reverse(LIST))
    assert response.status_code == 200
    rows = {r["user"]["email"]: r for r in response.json()["results"]}
    assert {"alice@example.org", "bob@example.org", "dana@example.org", "lee@example.org"} == set(
        rows
    )
    dana = lung_of(rows["dana@example.org"])
    assert (dana["passed"], dana["failed"], dana["pending"], dana["required"]) == (1, 1, 1, 2)
    assert dana["status"] == "in_training" and dana["credential"] is None
    bob = lung_of(rows["bob@example.org"])
    assert bob["status"] == "count" and bob["credential"]["basis"] == "count"


@pytest.mark.parametrize("name", ["bob", "dana"])
def test_others_list_themselves_only(history, signed_in, name):
    rows = signed_in(name).get(reverse(LIST)).json()["results"]
    assert [r["user"]["email"] for r in rows] == [f"{name}@example.org"]


def test_the_list_filters_by_exam_type_and_pages(history, signed_in):
    client = signed_in("alice")
    rows = client.get(reverse(LIST), {"exam_type": "lung"}).json()["results"]
    assert all([t["exam_type"]["code"] for t in r["exam_types"]] == ["lung"] for r in rows)
    assert client.get(reverse(LIST), {"exam_type": "nope"}).status_code == 400
    assert client.get(reverse(LIST), {"exam_type": "x" * 5000}).status_code == 400
    first = client.get(reverse(LIST), {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    assert client.get(reverse(LIST), {"cursor": "garbage\x00"}).status_code == 400


def test_charlie_never_sees_northside(history, signed_in):
    client = signed_in("charlie")
    rows = client.get(reverse(LIST)).json()["results"]
    assert "dana@example.org" not in json.dumps(rows)
    url = reverse("api-qa-credentialing-detail", args=[history["dana"].pk])
    assert client.get(url).status_code == 404
    grants = reverse("api-qa-credentialing-grants", args=[history["dana"].pk])
    assert send(client, "post", grants, {"exam_type": "lung", "note": "x"}).status_code == 404


def test_one_members_progress(history, signed_in):
    dana = history["dana"]
    url = reverse("api-qa-credentialing-detail", args=[dana.pk])
    assert signed_in("dana").get(url).status_code == 200
    assert signed_in("lee").get(url).json()["user"]["email"] == "dana@example.org"
    assert signed_in("bob").get(url).status_code == 404
    assert signed_in("alice", "southside").get(url).status_code == 404


def test_an_admin_grants_and_revokes(history, signed_in):
    dana = history["dana"]
    url = reverse("api-qa-credentialing-grants", args=[dana.pk])
    client = signed_in("alice")
    response = send(
        client, "post", url, {"exam_type": "lung", "note": "Credentialed at St Elsewhere, 2024"}
    )
    assert response.status_code == 201, response.content
    lung = lung_of(response.json())
    assert (
        lung["status"] == "grant"
        and lung["credential"]["granted_by"]["email"] == "alice@example.org"
    )
    assert send(client, "post", url, {"exam_type": "lung", "note": "again"}).status_code == 409
    response = send(client, "delete", url, {"exam_type": "lung", "reason": "Letter not received"})
    assert response.status_code == 200
    assert lung_of(response.json())["status"] == "in_training"
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "grant_credential" in actions and "revoke_credential" in actions
    assert send(client, "delete", url, {"exam_type": "lung", "reason": "x"}).status_code == 409


def test_a_credential_by_count_is_not_revoked(history, signed_in):
    url = reverse("api-qa-credentialing-grants", args=[history["bob"].pk])
    response = send(signed_in("alice"), "delete", url, {"exam_type": "lung", "reason": "x"})
    assert response.status_code == 409 and "earned by count" in response.content.decode()
    assert Credential.objects.filter(user=history["bob"]).exists()


@pytest.mark.parametrize("name", ["bob", "lee", "dana"])
def test_only_admins_grant(history, signed_in, name):
    url = reverse("api-qa-credentialing-grants", args=[history["dana"].pk])
    assert send(signed_in(name), "post", url, {"exam_type": "lung", "note": "x"}).status_code == 404
    assert (
        send(signed_in(name), "delete", url, {"exam_type": "lung", "reason": "x"}).status_code
        == 404
    )


@pytest.mark.parametrize(
    "body",
    [
        {"exam_type": "lung", "note": "nul \x00"},
        {"exam_type": "lung", "note": "x" * 100_000},
        {"exam_type": "lung", "note": ""},
        {"exam_type": "lung", "note": ["a"]},
        {"exam_type": "lung", "note": {"a": 1}},
        {"exam_type": "lung"},
        {"exam_type": 5, "note": "x"},
        {"exam_type": "no-such", "note": "x"},
        {"exam_type": None, "note": "x"},
        [],
        "text",
    ],
)
def test_hostile_grant_bodies_are_400(history, signed_in, body):
    url = reverse("api-qa-credentialing-grants", args=[history["dana"].pk])
    response = send(signed_in("alice"), "post", url, body)
    assert response.status_code == 400, response.content
    assert not Credential.objects.filter(user=history["dana"]).exists()


def test_a_grant_for_a_non_member_is_a_404(history, signed_in):
    url = reverse("api-qa-credentialing-grants", args=[history["charlie"].pk])
    assert (
        send(signed_in("alice"), "post", url, {"exam_type": "lung", "note": "x"}).status_code == 404
    )


def test_api_keys_follow_their_scope_and_institution(history, client):
    from tests.api.keyring import bearer, key_for

    alice, dana = history["alice"], history["dana"]
    url = reverse("api-qa-credentialing-grants", args=[dana.pk])
    body = json.dumps({"exam_type": "lung", "note": "Prior privileges"})
    read = bearer(key_for(alice, "northside", scope="read"))
    assert client.get(reverse(LIST), headers=read).status_code == 200
    refused = client.post(url, body, content_type="application/json", headers=read)
    assert refused.status_code == 403
    write = bearer(key_for(alice, "northside", scope="write"))
    made = client.post(url, body, content_type="application/json", headers=write)
    assert made.status_code == 201
    south = bearer(key_for(alice, "southside"))
    detail = reverse("api-qa-credentialing-detail", args=[dana.pk])
    assert client.get(detail, headers=south).status_code == 404
    assert "dana@example.org" not in client.get(reverse(LIST), headers=south).content.decode()


@pytest.mark.parametrize("user_id", ["0", "99999999999999999999999"])
def test_a_member_id_out_of_range_is_a_404(history, signed_in, user_id):
    client = signed_in("alice")
    for name in ("api-qa-credentialing-detail", "api-qa-credentialing-grants"):
        url = reverse(name, args=[1]).replace("/1/", f"/{user_id}/")
        assert client.get(url).status_code in (404, 405)
    url = reverse("api-qa-credentialing-grants", args=[1]).replace("/1/", f"/{user_id}/")
    assert send(client, "post", url, {"exam_type": "lung", "note": "x"}).status_code == 404
