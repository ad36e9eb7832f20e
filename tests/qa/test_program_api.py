"""GET /api/v1/qa/program/: the program dashboard's figures as JSON, with its rules."""

from __future__ import annotations

import pytest

from portal.tenants.models import Membership
from tests.api.keyring import bearer, key_for
from tests.qa.program_fixtures import END, START, WEEKS, build_program, lead

URL = "/api/v1/qa/program/"
PERIOD = {"start": START, "end": END}


@pytest.fixture
def program(northside, southside, alice, bob, charlie):
    return build_program(northside, southside, alice, bob, charlie)


def test_the_figures(client, alice, program):
    client.force_login(alice)
    response = client.get(URL, PERIOD)
    assert response.status_code == 200
    data = response.json()
    assert data["time_zone"] == "Europe/Berlin"
    assert (data["start"], data["end"]) == (START, END)
    assert [w["week"] for w in data["volume"]] == [w.isoformat() for w in WEEKS]
    assert [w["exams"] for w in data["volume"]] == [1, 2, 4]
    last = {c["exam_type"]: c["exams"] for c in data["volume"][2]["by_exam_type"]}
    assert last == {program["lung"].pk: 2, program["cardiac"].pk: 1, None: 1}
    assert data["backlog"] == {"pending": 3, "overdue": 1, "unassigned": 3}
    week = data["turnaround"][2]
    assert (week["scored"], week["median_hours"], week["p90_hours"], week["within_target"]) == (
        3,
        20.0,
        68.0,
        2,
    )
    assert data["turnaround"][0] == {
        "week": WEEKS[0].isoformat(),
        "scored": 0,
        "median_hours": None,
        "p90_hours": None,
        "within_target": 0,
    }
    assert data["turnaround_target_hours"] == 72
    assert [q["reviews"] for q in data["quality"]["levels"]] == [0, 1, 0, 1, 1]
    assert data["quality"]["passed_share"] == pytest.approx(2 / 3)
    lung = next(c for c in data["credentialing"] if c["exam_type"]["id"] == program["lung"].pk)
    assert (lung["credentialed"], lung["by_count"], lung["by_grant"], lung["in_training"]) == (
        2,
        1,
        1,
        1,
    )
    assert data["operators"][0]["name"] == "Tina Trainee"
    assert data["operator_count"] == 3


def test_a_read_key_of_a_qa_lead(client, bob, northside, program):
    lead(bob, northside)
    response = client.get(URL, PERIOD, headers=bearer(key_for(bob, northside, scope="read")))
    assert response.status_code == 200
    assert response.json()["backlog"]["pending"] == 3


def test_roles_and_tenancy(client, alice, bob, charlie, northside, program):
    assert client.get(URL, headers=bearer(key_for(bob, northside))).status_code == 404
    Membership.objects.filter(user=bob, institution=northside).update(is_qa_reviewer=True)
    assert client.get(URL, headers=bearer(key_for(bob, northside))).status_code == 404
    # Alice is a clinician at Southside: her key there is refused.
    assert client.get(URL, headers=bearer(key_for(alice, "southside"))).status_code == 404
    # Charlie (Southside's administrator) sees Southside's figures only...
    data = client.get(URL, PERIOD, headers=bearer(key_for(charlie))).json()
    assert sum(w["exams"] for w in data["volume"]) == 1
    assert data["backlog"]["pending"] == 0
    # ...and cannot ask for Northside's.
    headers = {**bearer(key_for(charlie)), "X-Portal-Institution": "northside"}
    assert client.get(URL, headers=headers).status_code == 403
    assert client.get(URL).status_code in (401, 403)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"start": "nope"}, "start"),
        ({"start": "2026-10-01\x00"}, "start"),
        ({"end": "x" * 100_000}, "end"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "end"),
        ({"start": "2026-11-01", "end": "2026-10-01"}, "start"),
        ({"end": "9999-12-31"}, "end"),
    ],
)
def test_hostile_parameters_are_a_400(client, alice, program, params, field):
    client.force_login(alice)
    response = client.get(URL, params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_queries_do_not_grow(client, alice, program, django_assert_num_queries):
    from portal.worksheets.models import ExamType
    from tests.qa.test_program import many_exams

    client.force_login(alice)
    client.get(URL, PERIOD)
    # The page's queries but the header's notifications.
    with django_assert_num_queries(14) as first:
        client.get(URL, PERIOD)
    types = list(ExamType.objects.filter(institution=program["lung"].institution))
    many_exams(program["lung"].institution, [alice, program["trainee"]], types, 60)
    with django_assert_num_queries(len(first.captured_queries)):
        assert client.get(URL, PERIOD).status_code == 200
