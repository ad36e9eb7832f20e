"""The QA settings page: QA leads and administrators only, each change audited, hostile
input answered with the form's errors; per exam type, the passes required and the extra
questions (worksheet fields checked by the engine)."""

import json

import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.qa.forms import check_questions
from portal.qa.models import ExamTypeQA, QASettings, default_required
from portal.qa.program import settings_for
from portal.tenants.models import Membership
from portal.worksheets.models import ExamType
from tests.qa.setup_fixtures import add_member, membership

pytestmark = pytest.mark.django_db
URL = "/qa/settings/"

GOOD_QUESTION = {"code": "gain", "label": "Gain set well", "type": "yesno"}


def form_data(institution, **changes):
    data = {
        "is_active": "on",
        "sample_percent": "10",
        "double_read_percent": "5",
        "turnaround_hours": "72",
        "assignment": "round_robin",
        "privileges_gate": "on",
        "total_required": "150",
    }
    for exam_type in ExamType.objects.filter(institution=institution, is_active=True):
        prefix = f"type-{exam_type.pk}-"
        row = ExamTypeQA.objects.filter(exam_type=exam_type).first()
        data[prefix + "required_passed"] = str(
            row.required_passed if row else default_required(exam_type.code)
        )
        data[prefix + "questions"] = json.dumps(row.questions) if row and row.questions else ""
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def fast(institution):
    return ExamType.objects.get(institution=institution, code="fast")


def test_the_url_name():
    assert reverse("qa-settings") == URL


def test_an_admin_sees_and_saves_the_settings_audited(client, trio, northside):
    alice = trio[0]
    client.force_login(alice)
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "QA program settings" in html and 'name="sample_percent"' in html
    assert f'name="type-{fast(northside).pk}-required_passed"' in html
    t = fast(northside)
    response = client.post(
        URL,
        form_data(
            northside,
            sample_percent="20",
            assignment="manual",
            **{
                f"type-{t.pk}-required_passed": "30",
                f"type-{t.pk}-questions": json.dumps([GOOD_QUESTION]),
            },
        ),
    )
    assert response.status_code == 302
    settings = settings_for(northside.pk)
    assert settings.sample_percent == 20 and settings.assignment == "manual"
    assert settings.is_active is True
    row = ExamTypeQA.objects.get(exam_type=t)
    assert row.required_passed == 30 and row.questions == [GOOD_QUESTION]
    events = AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE_QA_SETTINGS)
    program = events.get(object_type="qasettings")
    assert program.detail["changed"]["sample_percent"] == [10, 20]
    assert program.detail["changed"]["assignment"] == ["round_robin", "manual"]
    assert program.detail["changed"]["is_active"] == [False, True]
    typed = events.get(object_type="examtypeqa")
    assert typed.detail == {
        "exam_type": "fast",
        "changed": {"required_passed": [25, 30], "questions": [[], ["gain"]]},
    }
    assert typed.institution_id == northside.pk
    # The same again: nothing changed, nothing more in the log.
    client.post(URL, form_data(northside, sample_percent="20", assignment="manual"))
    assert events.count() == 2


def test_a_qa_lead_may_a_reviewer_and_a_clinician_may_not(client, trio, northside):
    alice, bob, charlie = trio
    client.force_login(bob)
    assert client.get(URL).status_code == 404
    assert client.post(URL, form_data(northside, sample_percent="50")).status_code == 404
    Membership.objects.filter(pk=membership(bob).pk).update(is_qa_reviewer=True)
    assert client.get(URL).status_code == 404
    Membership.objects.filter(pk=membership(bob).pk).update(is_qa_lead=True)
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "QA reviewers: <bdi>Bob Reviewer</bdi>." in html
    assert "QA leads: <bdi>Bob Reviewer</bdi>." in html
    assert client.post(URL, form_data(northside, sample_percent="50")).status_code == 302
    assert settings_for(northside.pk).sample_percent == 50
    # A clinician is never a QA lead, whatever the flag says.
    carol = add_member(northside, "carol@example.org", "clinician", is_qa_lead=True)
    client.force_login(carol.user)
    assert client.get(URL).status_code == 404


def test_each_institution_sees_and_changes_its_own(client, trio, northside, southside):
    alice, bob, charlie = trio
    client.force_login(charlie)  # Southside's admin
    html = client.get(URL).content.decode()
    assert f"type-{fast(southside).pk}-" in html and f"type-{fast(northside).pk}-" not in html
    # Northside's exam type sent to Southside's page is ignored; Northside is untouched.
    data = form_data(southside, sample_percent="33")
    data[f"type-{fast(northside).pk}-required_passed"] = "99"
    assert client.post(URL, data).status_code == 302
    assert settings_for(southside.pk).sample_percent == 33
    assert settings_for(northside.pk).sample_percent == 10
    assert not ExamTypeQA.objects.filter(exam_type=fast(northside), required_passed=99).exists()
    # alice is a clinician at Southside: a 404 there, though an admin at Northside.
    client.force_login(alice)
    client.post(reverse("switch-institution"), {"institution": "southside"})
    assert client.get(URL).status_code == 404
    assert not AuditEvent.objects.filter(
        action=AuditEvent.Action.CHANGE_QA_SETTINGS, institution=northside
    ).exists()


def test_anonymous_is_sent_to_log_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response["Location"]


@pytest.mark.parametrize(
    "changes",
    [
        {"sample_percent": "101"},
        {"sample_percent": "-1"},
        {"sample_percent": "9" * 40},
        {"sample_percent": "1\x00"},
        {"double_read_percent": "1e3"},
        {"turnaround_hours": "0"},
        {"turnaround_hours": "99999"},
        {"total_required": "0"},
        {"total_required": "-5"},
        {"total_required": "1" * 5000},
        {"assignment": "everyone\x00"},
        {"assignment": "x" * 10000},
        {"sample_percent": ""},
    ],
)
def test_hostile_settings_are_form_errors(client, trio, northside, changes):
    client.force_login(trio[0])
    response = client.post(URL, form_data(northside, **changes))
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    settings = settings_for(northside.pk)
    assert (settings.sample_percent, settings.turnaround_hours, settings.total_required) == (
        10,
        72,
        150,
    )
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE_QA_SETTINGS).exists()


@pytest.mark.parametrize(
    "required, questions, message",
    [
        ("0", "", "greater than or equal to 1"),
        ("-3", "", "greater than or equal to 1"),
        ("9" * 30, "", "less than or equal to"),
        ("abc\x00", "", "whole number"),
        ("25", "{not json", "not JSON"),
        ("25", "[" * 5000 + "]" * 5000, ""),
        ("25", json.dumps({"code": "gain"}), "JSON list"),
        ("25", json.dumps([{"code": "Bad Code", "label": "x", "type": "yesno"}]), "Question 1"),
        ("25", json.dumps([{"code": "gain", "label": "x", "type": "essay"}]), "type is one of"),
        ("25", json.dumps([{"code": "a", "label": "\x00", "type": "yesno"}]), "NUL"),
        ("25", json.dumps([GOOD_QUESTION, GOOD_QUESTION]), "used twice"),
        ("25", json.dumps([GOOD_QUESTION] * 21), "At most 20"),
        ("25", json.dumps([{"code": "n", "label": "N", "type": "number", "min": 1e400}]), ""),
        ("25", "x" * 30000, "at most 20000"),
    ],
)
def test_hostile_exam_type_input_is_a_form_error(
    client, trio, northside, required, questions, message
):
    client.force_login(trio[0])
    t = fast(northside)
    data = form_data(
        northside,
        **{f"type-{t.pk}-required_passed": required, f"type-{t.pk}-questions": questions},
    )
    response = client.post(URL, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ExamTypeQA.objects.filter(exam_type=t).exclude(questions=[]).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE_QA_SETTINGS).exists()


def test_a_question_list_the_engine_accepts():
    questions = [
        GOOD_QUESTION,
        {
            "code": "depth",
            "label": "Depth",
            "type": "choice",
            "choices": [["ok", "Right"], ["deep", "Too deep"]],
            "required": True,
        },
    ]
    assert check_questions(questions) == []
    assert check_questions("nope") and check_questions([{"code": "answers"}])


def test_the_program_settings_default_until_saved(client, trio, northside):
    client.force_login(trio[0])
    client.get(URL)
    settings = QASettings.objects.get(institution=northside)
    assert settings.is_active is False and settings.sample_percent == 10
    html = client.get(URL).content.decode()
    # A procedure asks for fewer passes by default than an application.
    vascular = ExamType.objects.filter(institution=northside, code="vascular_access").first()
    if vascular is not None:
        assert f'name="type-{vascular.pk}-required_passed" value="10"' in html
    assert f'name="type-{fast(northside).pk}-required_passed" value="25"' in html
