# ruff: noqa: F811 (the fixtures imported from calibration_fixtures are arguments here)
"""Outcomes and outcome-linked accuracy: the one mapping of answers to findings, the
outcome form, the accuracy report's counts, who sees what."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.qa import accuracy, outcomes
from portal.qa.models import Outcome
from portal.reports.models import Findings
from portal.worksheets.engine import Field
from tests.factories import make_exam
from tests.qa.calibration_fixtures import (  # noqa: F401 (fixtures)
    dave,
    erin,
    exam_type,
    lead,
    member,
    outcome,
    signed_exam,
)

URL = "/qa/accuracy/"
MINE = "/qa/accuracy/mine/"
PA = (("absent", "Absent"), ("present", "Present"), ("indeterminate", "Indeterminate"))


def outcome_url(exam):
    return reverse("qa-outcome", args=[exam.pk])


# -- the mapping ----------------------------------------------------------------------


def test_polarity_of_yes_no_fields():
    lung_point = Field("lung_point", "Lung point", "yesno", "chest", normal=False)
    activity = Field("cardiac_activity", "Cardiac activity", "yesno", "heart", normal=True)
    plain = Field("stone", "Stone", "yesno", "x")
    assert outcomes.polarity(lung_point, True) == "positive"
    assert outcomes.polarity(lung_point, False) == "negative"
    # Where "yes" is normal, "no" is the finding (no cardiac activity).
    assert outcomes.polarity(activity, False) == "positive"
    assert outcomes.polarity(activity, True) == "negative"
    assert outcomes.polarity(plain, True) == "positive"
    assert outcomes.polarity(plain, False) == "negative"
    for nothing in (None, "yes", 1, 0, ""):
        assert outcomes.polarity(lung_point, nothing) is None
    assert all(outcomes.is_finding(f) for f in (lung_point, activity, plain))


def test_polarity_of_choice_fields():
    fluid = Field("ruq_fluid", "Free fluid", "choice", "ruq", choices=PA, normal="absent")
    b_lines = Field(
        "b_lines",
        "B-lines",
        "choice",
        "lung",
        choices=(("none", "None"), ("focal", "Focal"), ("diffuse", "Diffuse")),
        normal="none",
    )
    assert outcomes.polarity(fluid, "absent") == "negative"
    assert outcomes.polarity(fluid, "present") == "positive"
    assert outcomes.polarity(fluid, "indeterminate") is None
    assert outcomes.polarity(fluid, "purple") is None
    assert outcomes.polarity(fluid, ["present"]) is None
    assert outcomes.polarity(b_lines, "focal") == "positive"
    assert outcomes.polarity(b_lines, "diffuse") == "positive"
    assert outcomes.polarity(b_lines, "none") == "negative"
    # Not findings: a choice without a normal value, multiple choice, numbers, text.
    side = Field("side", "Side", "choice", "x", choices=(("left", "Left"), ("right", "Right")))
    multi = Field("ind", "Indications", "multi", "x", choices=PA)
    number = Field("ef", "EF", "number", "x", normal=55)
    text = Field("t", "Note", "text", "x")
    for field in (side, multi, number, text):
        assert not outcomes.is_finding(field)
    assert outcomes.polarity(side, "left") is None
    assert outcomes.polarity(multi, ["present"]) is None
    assert outcomes.polarity(number, 20) is None
    assert outcomes.is_finding(fluid) and outcomes.is_finding(b_lines)


def test_fast_findings_are_its_yes_no_and_normal_choice_fields(northside):
    sheet = outcomes.worksheet_of(None, make_exam(northside, exam_type=exam_type(northside)))
    codes = [f.code for f in outcomes.finding_fields(sheet)]
    assert "ruq_fluid" in codes and "cardiac_activity" in codes and "lung_point" in codes
    assert "indications" not in codes


def test_check_refuses_hostile_input(northside):
    sheet = outcomes.worksheet_of(None, make_exam(northside, exam_type=exam_type(northside)))
    fields = outcomes.finding_fields(sheet)
    ok, errors = outcomes.check(fields, " CT abdomen ", "", {"ruq_fluid": "positive"})
    assert (
        not errors and ok["source"] == "CT abdomen" and ok["results"] == {"ruq_fluid": "positive"}
    )
    cases = [
        ("", "", {}, "source"),
        ("CT\x00", "", {}, "source"),
        ("x" * 201, "", {}, "source"),
        (["CT"], "", {}, "source"),
        ("CT", "n" * 5001, {}, "note"),
        ("CT", 5, {}, "note"),
        ("CT", "", {"ruq_fluid": "maybe"}, "results.ruq_fluid"),
        ("CT", "", {"ruq_fluid": True}, "results.ruq_fluid"),
        ("CT", "", {"nope": "positive"}, "results.nope"),
        ("CT", "", {"indications": "positive"}, "results.indications"),
        ("CT", "", ["ruq_fluid"], "results"),
    ]
    for source, note, results, key in cases:
        _, errors = outcomes.check(fields, source, note, results)
        assert key in errors, (source[:10], note, results)


# -- the outcome page -----------------------------------------------------------------


@pytest.fixture
def fast_exam(northside, dave):
    return signed_exam(
        northside, dave, {"ruq_fluid": "present", "pelvic_fluid": "absent", "lung_point": False}
    )


def test_outcome_page_records_and_replaces(client, bob, fast_exam):
    client.force_login(bob)
    response = client.get(outcome_url(fast_exam))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Free fluid in the hepatorenal space" in page
    assert "Signed read: <bdi>Present</bdi> (positive)" in page
    assert "<legend>Indications" not in page
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.VIEW_EXAM, object_id=str(fast_exam.pk), user=bob
    ).exists()
    posted = {
        "source": "CT abdomen",
        "result_ruq_fluid": "positive",
        "result_pelvic_fluid": "negative",
        "result_luq_fluid": "",
        "note": "Hemoperitoneum on CT.",
    }
    response = client.post(outcome_url(fast_exam), posted)
    assert response.status_code == 302
    saved = Outcome.objects.get(exam=fast_exam)
    assert saved.source == "CT abdomen"
    assert saved.results == {"ruq_fluid": "positive", "pelvic_fluid": "negative"}
    assert saved.recorded_by == bob and saved.institution_id == fast_exam.institution_id
    event = AuditEvent.objects.get(action=AuditEvent.Action.RECORD_OUTCOME)
    assert event.object_id == str(fast_exam.pk) and event.detail["findings"] == 2
    # Saving again replaces the one outcome.
    client.post(outcome_url(fast_exam), {"source": "Laparotomy", "result_ruq_fluid": "negative"})
    saved = Outcome.objects.get(exam=fast_exam)
    assert saved.source == "Laparotomy" and saved.results == {"ruq_fluid": "negative"}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RECORD_OUTCOME).count() == 2
    page = client.get(outcome_url(fast_exam)).content.decode()
    assert "Outcome recorded: <bdi>Laparotomy</bdi>" in page


@pytest.mark.parametrize(
    "posted",
    [
        {"source": ""},
        {"source": "CT\x00abdomen"},
        {"source": "C" * 5000},
        {"source": "CT", "note": "n" * 6000},
        {"source": "CT", "result_ruq_fluid": "maybe"},
        {"source": "CT", "result_ruq_fluid": "positive\x00"},
        {"source": "CT", "result_no_such_field": "positive"},
        {"source": "CT", "result_indications": "positive"},
    ],
)
def test_outcome_page_refuses_hostile_input(client, bob, fast_exam, posted):
    client.force_login(bob)
    response = client.post(outcome_url(fast_exam), posted)
    assert response.status_code == 400
    assert "The outcome was not saved" in response.content.decode()
    assert not Outcome.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.RECORD_OUTCOME).exists()


def test_outcome_page_who(client, alice, bob, charlie, dave, lead, fast_exam):
    url = outcome_url(fast_exam)
    for user in (alice, bob, lead):
        client.force_login(user)
        assert client.get(url).status_code == 200
    # The operator (a clinician who sees the exam) and another institution: 404.
    for user in (dave, charlie):
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert client.post(url, {"source": "CT"}).status_code == 404
    assert not Outcome.objects.exists()
    client.force_login(bob)
    assert client.get(reverse("qa-outcome", args=[999999])).status_code == 404
    assert client.put(url).status_code == 405


def test_exam_page_links_to_the_outcome_for_reviewers(client, bob, dave, fast_exam):
    client.force_login(bob)
    page = client.get(reverse("exam-detail", args=[fast_exam.pk])).content.decode()
    assert outcome_url(fast_exam) in page and "Record the outcome" in page
    outcome(fast_exam, {"ruq_fluid": "positive"}, source="CT abdomen")
    page = client.get(reverse("exam-detail", args=[fast_exam.pk])).content.decode()
    assert "Outcome recorded: <bdi>CT abdomen</bdi>" in page
    client.force_login(dave)
    page = client.get(reverse("exam-detail", args=[fast_exam.pk])).content.decode()
    assert "Outcome recorded: <bdi>CT abdomen</bdi>" in page
    assert outcome_url(fast_exam) not in page


def test_outcome_page_without_worksheet(client, bob, northside):
    exam = make_exam(northside, captures=0)
    client.force_login(bob)
    response = client.get(outcome_url(exam))
    assert response.status_code == 200
    assert "no findings an outcome can confirm" in response.content.decode()
    assert client.post(outcome_url(exam), {"source": "CT chest"}).status_code == 302
    assert Outcome.objects.get(exam=exam).results == {}


# -- the accuracy report --------------------------------------------------------------


@pytest.fixture
def reads(northside, southside, dave, erin, charlie):
    """Dave: TP 2, FP 1, FN 1, TN 1 on FAST; Erin: TN 1. Hand-counted below."""
    one = signed_exam(
        northside,
        dave,
        {"ruq_fluid": "present", "pelvic_fluid": "absent", "cardiac_activity": True},
    )
    # ruq: read positive, had it (TP); pelvis: read negative, had it (FN);
    # cardiac activity: read "yes" (normal: negative), none was absent (TN).
    outcome(
        one, {"ruq_fluid": "positive", "pelvic_fluid": "positive", "cardiac_activity": "negative"}
    )
    two = signed_exam(
        northside,
        dave,
        {"ruq_fluid": "present", "luq_fluid": "indeterminate", "lung_point": True},
    )
    # ruq: read positive, did not have it (FP); luq: indeterminate, not counted;
    # lung point: read yes, had it (TP).
    outcome(two, {"ruq_fluid": "negative", "luq_fluid": "positive", "lung_point": "positive"})
    # Erin: absent and absent (TN); the unanswered pericardium is not counted.
    three = signed_exam(northside, erin, {"ruq_fluid": "absent"})
    outcome(three, {"ruq_fluid": "negative", "pericardial_effusion": "positive"})
    # Not signed: does not count.
    draft = signed_exam(northside, dave, {"ruq_fluid": "present"})
    Findings.objects.filter(exam=draft).update(signed_at=None)
    outcome(draft, {"ruq_fluid": "negative"})
    # Another institution's exam and outcome never count at Northside.
    south = signed_exam(southside, charlie, {"ruq_fluid": "present"})
    outcome(south, {"ruq_fluid": "negative"}, source="South CT")
    return one, two, three


def test_accuracy_matches_hand_counts(northside, dave, erin, reads):
    one, two, _ = reads
    result = accuracy.accuracy(northside.pk)
    by_operator = {line.operator_name: line for line in result.lines}
    assert set(by_operator) == {"Dave Operator", "Erin Operator"}
    d = by_operator["Dave Operator"].accuracy
    assert (d.tp, d.fp, d.fn, d.tn) == (2, 1, 1, 1)
    assert d.sensitivity.value == pytest.approx(2 / 3)
    assert d.specificity.value == pytest.approx(1 / 2)
    assert d.sensitivity.low < 2 / 3 < d.sensitivity.high
    assert by_operator["Dave Operator"].exams == 2
    e = by_operator["Erin Operator"].accuracy
    assert (e.tp, e.fp, e.fn, e.tn) == (0, 0, 0, 1)
    assert e.sensitivity.value is None and e.specificity.value == 1.0
    assert result.exams == 3
    discordant = {(d.exam_id, d.finding, d.kind) for d in result.discordant}
    assert discordant == {
        (one.pk, "Free fluid in the pelvis (rectovesical or rectouterine)", "false negative"),
        (two.pk, "Free fluid in the hepatorenal space (Morison's pouch)", "false positive"),
    }
    mine = accuracy.accuracy(northside.pk, operator_id=erin.pk)
    assert [line.operator_name for line in mine.lines] == ["Erin Operator"]
    assert mine.discordant == []


def test_accuracy_page_for_leads(client, alice, lead, reads):
    one, two, three = reads
    for user in (alice, lead):
        client.force_login(user)
        response = client.get(URL)
        assert response.status_code == 200
        page = response.content.decode()
        assert "67% (2 of 3; 95% CI" in page and "50% (1 of 2; 95% CI" in page
        assert reverse("exam-detail", args=[one.pk]) in page
        assert reverse("exam-detail", args=[two.pk]) in page
        assert reverse("exam-detail", args=[three.pk]) not in page
        assert "South CT" not in page


def test_accuracy_page_roles_and_tenancy(client, bob, charlie, dave, northside, reads):
    qa_only = member(northside, "quinn@example.org", "Quinn", is_qa_reviewer=True)
    for user in (bob, dave, qa_only):
        client.force_login(user)
        assert client.get(URL).status_code == 404
        assert client.get(URL, {"format": "csv"}).status_code == 404
    client.force_login(charlie)
    page = client.get(URL).content.decode()
    assert "Dave Operator" not in page and "Charlie Stranger" in page


def test_an_operator_sees_only_their_own(client, dave, erin, reads):
    one, two, three = reads
    client.force_login(dave)
    page = client.get(MINE).content.decode()
    assert "Your accuracy against outcomes" in page
    assert "67% (2 of 3" in page
    assert "Erin Operator" not in page
    assert reverse("exam-detail", args=[two.pk]) in page
    client.force_login(erin)
    page = client.get(MINE).content.decode()
    assert "Dave" not in page
    assert reverse("exam-detail", args=[one.pk]) not in page
    assert "No discordant findings" in page
    rows = list(csv.reader(io.StringIO(client.get(MINE, {"format": "csv"}).content.decode())))
    assert [row[0] for row in rows[1:]] == ["Erin Operator"]


def test_accuracy_csv(client, alice, reads, dave):
    dave.full_name = "@SUM(1+1)"
    dave.save()
    client.force_login(alice)
    response = client.get(URL, {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == accuracy.CSV_HEADER
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["operator"] == "'@SUM(1+1)"
    assert (line["tp"], line["fp"], line["fn"], line["tn"]) == ("2", "1", "1", "1")
    assert line["sensitivity"] == "0.667"


def test_discordant_list_is_paged_and_queries_stay_constant(client, alice, northside, dave):
    client.force_login(alice)
    exam = signed_exam(northside, dave, {"ruq_fluid": "present"})
    outcome(exam, {"ruq_fluid": "negative"})
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    for _ in range(30):
        exam = signed_exam(northside, dave, {"ruq_fluid": "present"})
        outcome(exam, {"ruq_fluid": "negative"})
    lung = signed_exam(northside, dave, {"right_sliding": "absent"}, code="lung")
    outcome(lung, {"right_sliding": "negative"})
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL)
    assert len(many) == len(few)
    page = response.content.decode()
    assert "32 findings where the read and the outcome disagree" in page
    assert "Page 1 of 2" in page
    assert "Page 2 of 2" in client.get(URL, {"page": "2"}).content.decode()
    for bad in ("abc", "-1", "99999", "1\x00"):
        assert client.get(URL, {"page": bad}).status_code == 200


def test_result_words_follow_the_mapping():
    sliding = Field(
        "right_sliding",
        "Lung sliding",
        "choice",
        "chest",
        choices=(("present", "Present"), ("absent", "Absent")),
        normal="present",
    )
    assert outcomes.result_words(sliding) == {
        "positive": "Absent",
        "negative": "Present, normal",
    }
    fluid = Field("ruq_fluid", "Free fluid", "choice", "ruq", choices=PA, normal="absent")
    assert outcomes.result_words(fluid)["positive"] == "Present"  # not "Indeterminate"
    activity = Field("cardiac_activity", "Cardiac activity", "yesno", "heart", normal=True)
    assert outcomes.result_words(activity) == {"positive": "No", "negative": "Yes, normal"}
    stone = Field("stone", "Stone", "yesno", "x")
    assert outcomes.result_words(stone) == {"positive": "Yes", "negative": "No"}
