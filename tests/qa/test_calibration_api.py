# ruff: noqa: F811 (the fixtures imported from calibration_fixtures are arguments here)
"""The calibration, accuracy and outcome API: numbers as on the pages, roles, tenancy,
API keys, hostile bodies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.exams.models import AuditEvent
from portal.qa.models import Outcome
from tests.api.keyring import bearer, key_for
from tests.qa.calibration_fixtures import (  # noqa: F401 (fixtures)
    dave,
    double_read,
    lead,
    member,
    outcome,
    qa_reviewers,
    signed_exam,
)

CALIBRATION = "/api/v1/qa/calibration/"
ACCURACY = "/api/v1/qa/accuracy/"
A, FP, FN = "agree", "false_positive", "false_negative"


def outcome_url(exam):
    return f"/api/v1/qa/exams/{exam.pk}/outcome/"


def put(client, url, data, **headers):
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.put(url, body, content_type="application/json", headers=headers)


@pytest.fixture
def pairs(northside, qa_reviewers):
    ann, ben, _ = qa_reviewers
    rows = [
        ((4, A, True), (4, A, True)),
        ((5, A, True), (4, A, True)),
        ((3, A, True), (3, A, True)),
        ((2, A, True), (3, FP, False)),
        ((4, FN, False), (5, FN, False)),
        ((1, FP, False), (1, A, True)),
    ]
    return [double_read(northside, ann, ben, a, b) for a, b in rows]


@pytest.fixture
def fast_exam(northside, dave):
    return signed_exam(northside, dave, {"ruq_fluid": "present", "pelvic_fluid": "absent"})


def test_calibration_api(client, alice, lead, pairs):
    for user in (alice, lead):
        client.force_login(user)
        response = client.get(CALIBRATION)
        assert response.status_code == 200
        body = response.json()
        assert body["pairs"] == 6
        assert body["overall"]["interpretation"]["kappa"] == pytest.approx(1 / 3)
        assert body["overall"]["interpretation"]["words"] == "fair"
        assert body["overall"]["passed"]["kappa"] == pytest.approx(0.25)
        assert [r["name"] for r in body["reviewers"]] == ["Reviewer Ann", "Reviewer Ben"]
        assert body["reviewers"][0]["rater_bias"]["mean_difference"] == pytest.approx(-1 / 6)
        assert "rater_bias" not in body["overall"]
    # Aggregates only: no exam of a pair is named anywhere in the answer.
    text = json.dumps(body)
    for exam in pairs:
        assert str(exam.exam_uuid) not in text
        assert f'"exam": {exam.pk}' not in text


def test_calibration_api_period(client, alice, pairs):
    client.force_login(alice)
    assert client.get(CALIBRATION, {"start": "2999-01-01"}).json()["pairs"] == 0
    for bad in (
        {"start": "yesterday"},
        {"end": "2026-02-30"},
        {"start": "2026-05-01", "end": "2026-04-01"},
    ):
        response = client.get(CALIBRATION, bad)
        assert response.status_code == 400
        assert response["Content-Type"].startswith("application/problem+json")


def test_lead_endpoints_roles_and_tenancy(client, bob, charlie, dave, northside, pairs):
    qa_only = member(northside, "quinn@example.org", "Quinn", is_qa_reviewer=True)
    for user in (bob, dave, qa_only):
        client.force_login(user)
        assert client.get(CALIBRATION).status_code == 404
        assert client.get(ACCURACY).status_code == 404
    client.force_login(charlie)
    body = client.get(CALIBRATION).json()
    assert body["pairs"] == 0 and body["reviewers"] == []
    # Naming another institution with the header is refused, never answered from it.
    assert client.get(CALIBRATION, headers={"X-Portal-Institution": "northside"}).status_code == 403
    client.logout()
    assert client.get(CALIBRATION).status_code in (401, 403)


def test_calibration_api_with_keys(client, alice, charlie, pairs):
    response = client.get(CALIBRATION, headers=bearer(key_for(alice, scope="read")))
    assert response.status_code == 200 and response.json()["pairs"] == 6
    response = client.get(CALIBRATION, headers=bearer(key_for(charlie)))
    assert response.json()["pairs"] == 0


def test_accuracy_api(client, alice, northside, dave, fast_exam):
    outcome(fast_exam, {"ruq_fluid": "negative", "pelvic_fluid": "positive"})
    client.force_login(alice)
    body = client.get(ACCURACY).json()
    assert body["exams"] == 1
    (row,) = body["rows"]
    assert row["operator"]["name"] == "Dave Operator"
    assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (0, 1, 1, 0)
    assert row["sensitivity"] == 0.0 and row["sensitivity_n"] == 1
    assert {d["kind"] for d in body["discordant"]} == {"false positive", "false negative"}
    assert all(d["exam"] == fast_exam.pk for d in body["discordant"])


def test_outcome_api_get_and_put(client, bob, fast_exam):
    client.force_login(bob)
    body = client.get(outcome_url(fast_exam)).json()
    assert body["recorded"] is False and body["results"] == {}
    codes = {f["code"]: f for f in body["findings"]}
    assert codes["ruq_fluid"]["read"] == "positive"
    assert codes["pelvic_fluid"]["read"] == "negative"
    assert codes["cardiac_activity"]["positive_means"] == "No"
    assert codes["ruq_fluid"]["negative_means"] == "Absent, normal"
    assert "indications" not in codes
    response = put(
        client,
        outcome_url(fast_exam),
        {"source": "CT abdomen", "results": {"ruq_fluid": "positive", "luq_fluid": None}},
    )
    assert response.status_code == 201
    assert response.json()["results"] == {"ruq_fluid": "positive"}
    response = put(client, outcome_url(fast_exam), {"source": "CT abdomen and pelvis"})
    assert response.status_code == 200
    saved = Outcome.objects.get(exam=fast_exam)
    assert saved.source == "CT abdomen and pelvis" and saved.results == {}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RECORD_OUTCOME).count() == 2


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "source"),
        ({"source": ""}, "source"),
        ({"source": 5}, "source"),
        ({"source": "CT\u0000"}, "source"),
        ({"source": "x" * 100_000}, "source"),
        ({"source": "CT", "note": ["x"]}, "note"),
        ({"source": "CT", "results": "ruq_fluid"}, "results"),
        ({"source": "CT", "results": {"ruq_fluid": "yes"}}, "results.ruq_fluid"),
        ({"source": "CT", "results": {"ruq_fluid": 1}}, "results.ruq_fluid"),
        ({"source": "CT", "results": {"ruq_fluid": ["positive"]}}, "results.ruq_fluid"),
        ({"source": "CT", "results": {"ruq_fluid": {"a": 1}}}, "results.ruq_fluid"),
        ({"source": "CT", "results": {"zz\u0000": "positive"}}, "results.zz"),
        ({"source": "CT", "results": {"indications": "positive"}}, "results.indications"),
    ],
)
def test_outcome_api_refuses_hostile_bodies(client, bob, fast_exam, body, field):
    client.force_login(bob)
    response = put(client, outcome_url(fast_exam), body)
    assert response.status_code == 400, response.content
    assert field in json.dumps(response.json())
    assert not Outcome.objects.exists()


@pytest.mark.parametrize("raw", ["[1, 2]", "not json", '"text"', "{" * 5000])
def test_outcome_api_refuses_bodies_that_are_not_objects(client, bob, fast_exam, raw):
    client.force_login(bob)
    response = put(client, outcome_url(fast_exam), raw)
    assert 400 <= response.status_code < 500
    assert not Outcome.objects.exists()


def test_outcome_api_roles_and_tenancy(client, alice, charlie, dave, lead, fast_exam):
    url = outcome_url(fast_exam)
    for user in (alice, lead):
        client.force_login(user)
        assert client.get(url).status_code == 200
    for user in (dave, charlie):
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert put(client, url, {"source": "CT"}).status_code == 404
    # A read key may read, not write.
    read_key = bearer(key_for(alice, scope="read"))
    assert client.get(url, headers=read_key).status_code == 200
    assert put(client, url, {"source": "CT"}, **read_key).status_code == 403
    client.logout()
    write_key = bearer(key_for(alice))
    assert put(client, url, {"source": "CT"}, **write_key).status_code == 201
    assert client.get("/api/v1/qa/exams/999999/outcome/", headers=write_key).status_code == 404


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "source": JSON,
            "note": JSON,
            "results": JSON | st.dictionaries(st.sampled_from(["ruq_fluid", "x"]), JSON),
        },
    )
)
def test_outcome_api_never_fails_on_any_json(client, bob, fast_exam, body):
    client.force_login(bob)
    response = put(client, outcome_url(fast_exam), body)
    assert response.status_code in (200, 201, 400), response.content
