"""The QA settings API: QA leads and administrators only (sessions and keys), each change
audited, hostile input a 400 problem never a 500, one institution never another's."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.qa.models import ExamTypeQA
from portal.qa.program import settings_for
from portal.tenants.models import Membership
from portal.worksheets.models import ExamType
from tests.api.keyring import bearer, key_for
from tests.qa.setup_fixtures import add_member, membership, patch

pytestmark = pytest.mark.django_db
SETTINGS = "/api/v1/qa/settings/"
GOOD_QUESTION = {"code": "gain", "label": "Gain set well", "type": "yesno"}


def type_url(code="fast"):
    return reverse("api-qa-exam-type", args=[code])


def test_the_urls():
    assert reverse("api-qa-settings") == SETTINGS
    assert type_url() == "/api/v1/qa/exam-types/fast/"


def test_an_admin_reads_and_changes_the_settings_audited(client, trio, northside):
    client.force_login(trio[0])
    document = client.get(SETTINGS).json()
    assert document == {
        "is_active": False,
        "sample_percent": 10,
        "double_read_percent": 5,
        "turnaround_hours": 72,
        "assignment": "round_robin",
        "privileges_gate": True,
        "total_required": 150,
    }
    response = patch(client, SETTINGS, {"is_active": True, "sample_percent": 25})
    assert response.status_code == 200
    assert response.json()["is_active"] is True and response.json()["sample_percent"] == 25
    assert response.json()["turnaround_hours"] == 72
    settings = settings_for(northside.pk)
    assert settings.is_active and settings.sample_percent == 25 and settings.privileges_gate
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHANGE_QA_SETTINGS)
    assert event.detail == {"changed": {"is_active": [False, True], "sample_percent": [10, 25]}}
    response = patch(client, SETTINGS, {"privileges_gate": False, "assignment": "manual"})
    assert response.json()["privileges_gate"] is False
    assert response.json()["assignment"] == "manual" and response.json()["is_active"] is True


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"sample_percent": 101},
        {"sample_percent": -1},
        {"sample_percent": 10**30},
        {"sample_percent": 1.5},
        {"sample_percent": "10"},
        {"sample_percent": True},
        {"turnaround_hours": 0},
        {"total_required": 0},
        {"is_active": "true"},
        {"is_active": 1},
        {"is_active": None},
        {"assignment": "everyone"},
        {"assignment": "manual\x00"},
        {"assignment": ["manual"]},
        {"nonsense": 1},
        {"\x00": 1},
    ],
)
def test_hostile_settings_are_a_400(client, trio, northside, body):
    client.force_login(trio[0])
    response = patch(client, SETTINGS, body)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert settings_for(northside.pk).sample_percent == 10
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE_QA_SETTINGS).exists()


@pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "{", "[" * 3000 + "]" * 3000, "\x00"])
def test_a_body_that_is_not_an_object_is_a_400(client, trio, raw):
    client.force_login(trio[0])
    assert patch(client, SETTINGS, raw).status_code == 400
    assert patch(client, type_url(), raw).status_code == 400


def test_exam_type_rules_read_and_changed_audited(client, trio, northside):
    client.force_login(trio[0])
    document = client.get(type_url()).json()
    fast = ExamType.objects.get(institution=northside, code="fast")
    assert document == {"code": "fast", "name": fast.name, "required_passed": 25, "questions": []}
    response = patch(client, type_url(), {"required_passed": 40, "questions": [GOOD_QUESTION]})
    assert response.status_code == 200
    assert response.json()["required_passed"] == 40
    assert response.json()["questions"] == [GOOD_QUESTION]
    row = ExamTypeQA.objects.get(exam_type=fast)
    assert row.institution_id == northside.pk and row.questions == [GOOD_QUESTION]
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHANGE_QA_SETTINGS)
    assert event.detail == {
        "exam_type": "fast",
        "changed": {"required_passed": [25, 40], "questions": [[], ["gain"]]},
    }
    # Only the questions: the passes stay.
    response = patch(client, type_url(), {"questions": []})
    assert response.json() == {**document, "required_passed": 40}


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "non_field_errors"),
        ({"required_passed": 0}, "required_passed"),
        ({"required_passed": -4}, "required_passed"),
        ({"required_passed": 10**40}, "required_passed"),
        ({"required_passed": "25"}, "required_passed"),
        ({"required_passed": True}, "required_passed"),
        ({"required_passed": 2.5}, "required_passed"),
        ({"questions": "gain"}, "questions"),
        ({"questions": {"code": "gain"}}, "questions"),
        ({"questions": [{"code": "gain", "label": "x", "type": "essay"}]}, "questions"),
        ({"questions": [{"code": "g\x00", "label": "x", "type": "yesno"}]}, "questions"),
        ({"questions": [{"code": "g", "label": "\x00", "type": "yesno"}]}, "questions"),
        ({"questions": [GOOD_QUESTION] * 2}, "questions"),
        ({"questions": [GOOD_QUESTION] * 500}, "questions"),
        ({"questions": [[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]}, "questions"),
        ({"questions": [{"code": "n", "label": "N", "type": "number", "min": "x"}]}, "questions"),
        ({"required_passed": 30, "extra": 1}, "non_field_errors"),
    ],
)
def test_hostile_exam_type_rules_are_a_400_naming_the_field(client, trio, northside, body, field):
    client.force_login(trio[0])
    response = patch(client, type_url(), body)
    assert response.status_code == 400
    errors = response.json().get("errors", [])
    assert field in {e.get("field", "non_field_errors") for e in errors} or field == (
        "non_field_errors"
    )
    assert not ExamTypeQA.objects.filter(institution=northside).exclude(required_passed=25).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE_QA_SETTINGS).exists()


def test_a_deeply_nested_question_is_a_400_not_a_500(client, trio):
    client.force_login(trio[0])
    nested = "[" * 400 + "]" * 400
    raw = '{"questions": [{"code": "a", "label": "A", "type": "yesno", "choices": ' + nested + "}]}"
    assert patch(client, type_url(), raw).status_code == 400
    raw = '{"questions": ' + nested + "}"
    assert patch(client, type_url(), raw).status_code == 400


def test_roles_reviewer_and_clinician_404_qa_lead_ok(client, trio, northside):
    alice, bob, charlie = trio
    client.force_login(bob)
    assert client.get(SETTINGS).status_code == 404
    assert patch(client, SETTINGS, {"sample_percent": 50}).status_code == 404
    assert client.get(type_url()).status_code == 404
    Membership.objects.filter(pk=membership(bob).pk).update(is_qa_reviewer=True)
    assert client.get(SETTINGS).status_code == 404
    Membership.objects.filter(pk=membership(bob).pk).update(is_qa_lead=True)
    assert client.get(SETTINGS).status_code == 200
    assert patch(client, SETTINGS, {"sample_percent": 50}).status_code == 200
    assert patch(client, type_url(), {"required_passed": 12}).status_code == 200
    carol = add_member(northside, "carol@example.org", "clinician", is_qa_lead=True)
    client.force_login(carol.user)
    assert client.get(SETTINGS).status_code == 404
    assert client.get(type_url()).status_code == 404


def test_each_institution_its_own(client, trio, northside, southside):
    alice, bob, charlie = trio
    client.force_login(charlie)
    assert patch(client, SETTINGS, {"sample_percent": 44}).status_code == 200
    assert settings_for(southside.pk).sample_percent == 44
    assert settings_for(northside.pk).sample_percent == 10
    # An exam type only Northside has is a 404 at Southside.
    ExamType.objects.create(institution=northside, code="north_only", name="North only")
    assert client.get(type_url("north_only")).status_code == 404
    assert patch(client, type_url("north_only"), {"required_passed": 3}).status_code == 404
    assert patch(client, type_url("fast"), {"required_passed": 3}).status_code == 200
    north_fast = ExamType.objects.get(institution=northside, code="fast")
    assert not ExamTypeQA.objects.filter(exam_type=north_fast, required_passed=3).exists()
    # alice is a clinician at Southside.
    client.force_login(alice)
    client.post(reverse("switch-institution"), {"institution": "southside"})
    assert client.get(SETTINGS).status_code == 404
    assert client.get(type_url("nope")).status_code == 404


def test_anonymous_is_refused(client, db):
    assert client.get(SETTINGS).status_code in (401, 403)


@pytest.fixture
def fast_keys(settings):
    settings.PORTAL_API_KEY_RATE = "100000/min"


def send(method, url, key, body=None):
    headers = {"HTTP_" + k.upper(): v for k, v in bearer(key).items()}
    if body is None:
        return getattr(Client(), method)(url, **headers)
    return getattr(Client(), method)(
        url, json.dumps(body), content_type="application/json", **headers
    )


def test_keys_admins_and_leads_read_write_needs_the_write_scope(trio, northside, fast_keys):
    alice, bob, charlie = trio
    read_key = key_for(alice, "northside", scope="read")
    assert send("get", SETTINGS, read_key).status_code == 200
    assert send("patch", SETTINGS, read_key, {"sample_percent": 30}).status_code == 403
    write_key = key_for(alice, "northside", scope="write", name="w")
    assert send("patch", SETTINGS, write_key, {"sample_percent": 30}).status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHANGE_QA_SETTINGS)
    assert event.detail["api_key"] and event.institution_id == northside.pk
    bob_key = key_for(bob, "northside")
    assert send("get", SETTINGS, bob_key).status_code == 404
    charlie_key = key_for(charlie, "southside")
    assert send("get", SETTINGS, charlie_key).json()["sample_percent"] == 10
    assert send("patch", type_url(), charlie_key, {"required_passed": 9}).status_code == 200
    assert settings_for(northside.pk).sample_percent == 30
