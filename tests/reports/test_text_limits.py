"""Limits on every text of a review: refused at once, with the field and the limit named,
and nothing saved. A 500 KB impression once took 33 s to sign; 2 MB or 100,000 newlines
timed the web worker out."""

import time

import pytest
from django.urls import reverse

from portal.reports.forms import TEXT_FIELDS, AddendumForm, FindingsForm
from portal.reports.limits import ADDENDA_LIMIT, ADDENDUM_LIMIT, FINDINGS_LIMITS, LINE_LIMIT
from portal.reports.models import Addendum, Findings, Report
from portal.reports.review import ReviewRefused, add_addendum, findings_of, sign_findings
from tests.reports.conftest import FINDINGS, complete_worksheet, sign

LABELS = {
    "indication": "Indication",
    "views_obtained": "Views obtained",
    "findings": "Findings",
    "impression": "Impression",
    "clinician_feedback": "Feedback to the clinician",
}


def post_refused(client, url, data):
    started = time.monotonic()
    response = client.post(url, data)
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    assert elapsed < 3  # refused at the door (typically a few tens of milliseconds)
    return response.content.decode()


@pytest.mark.parametrize("action", ["exam-sign", "exam-findings"])
def test_a_500_kb_impression_is_refused_fast_with_a_clear_message(login, exams, action):
    exam = exams["north"]
    impression = ("Normal gallbladder; " * 25_600)[:511_999] + "."  # 512,000 characters
    data = {**FINDINGS, "impression": impression}
    page = post_refused(login("bob"), reverse(action, args=[exam.pk]), data)
    assert "Impression is 512,000 characters long; the limit is 10,000." in page
    assert not Findings.objects.exists() and not Report.objects.exists()


def test_a_2_mb_findings_field_is_refused_fast(login, exams):
    exam = exams["north"]
    data = {**FINDINGS, "findings": "x" * (2 * 1024 * 1024)}
    page = post_refused(login("bob"), reverse("exam-sign", args=[exam.pk]), data)
    assert "Findings is 2,097,152 characters long; the limit is 40,000." in page
    assert not Findings.objects.exists() and not Report.objects.exists()


def test_100_000_newlines_are_refused_fast(login, exams):
    exam = exams["north"]
    data = {**FINDINGS, "findings": "a" + "\n" * 100_000 + "b"}
    page = post_refused(login("bob"), reverse("exam-sign", args=[exam.pk]), data)
    assert "Findings is 100,002 characters long; the limit is 40,000." in page
    assert not Report.objects.exists()


def test_too_many_lines_within_the_length_are_refused(login, exams):
    exam = exams["north"]
    data = {**FINDINGS, "impression": "\n".join(["ok"] * (LINE_LIMIT + 1))}
    page = post_refused(login("bob"), reverse("exam-sign", args=[exam.pk]), data)
    assert f"Impression has 1,001 lines; the limit is {LINE_LIMIT:,}." in page
    assert not Report.objects.exists()


@pytest.mark.parametrize("name", TEXT_FIELDS)  # views_obtained: kept, no longer edited
def test_every_field_has_its_limit_and_accepts_up_to_it(exams, name):
    limit = FINDINGS_LIMITS[name]
    instance = findings_of(exams["north"])
    at_limit = FindingsForm({**FINDINGS, name: "a" * limit}, instance=instance)
    assert at_limit.is_valid(), at_limit.errors
    over = FindingsForm({**FINDINGS, name: "a" * (limit + 1)}, instance=instance)
    assert not over.is_valid()
    assert over.errors[name] == [
        f"{LABELS[name]} is {limit + 1:,} characters long; the limit is {limit:,}."
    ]
    assert over.fields[name].widget.attrs["maxlength"] == str(limit)


def test_browser_line_breaks_count_as_one_character_and_are_kept_as_one(exams):
    limit = FINDINGS_LIMITS["impression"]
    text = "\r\n".join(["a" * 9] * (limit // 10))  # 10 characters a line, counting the break
    form = FindingsForm({**FINDINGS, "impression": text}, instance=findings_of(exams["north"]))
    assert form.is_valid(), form.errors
    assert "\r" not in form.cleaned_data["impression"]


def test_control_and_bidi_characters_are_taken_out_of_the_worksheet(login, exams):
    exam = exams["north"]
    text = "Normal\u202e study.\x1b[31m\nSecond\tline."
    login("bob").post(reverse("exam-findings", args=[exam.pk]), {**FINDINGS, "findings": text})
    assert Findings.objects.get().findings == "Normal study.[31m\nSecond\tline."


def test_a_nul_character_is_refused_not_stored(login, exams):
    exam = exams["north"]
    url = reverse("exam-findings", args=[exam.pk])
    response = login("bob").post(url, {**FINDINGS, "impression": "a\x00b"})
    assert response.status_code == 400
    assert not Findings.objects.exists()


def test_signing_refuses_a_draft_saved_before_the_limits(exams, users):
    exam = exams["north"]
    draft = complete_worksheet(findings_of(exam))
    draft.impression = "x" * (FINDINGS_LIMITS["impression"] + 1)
    draft.save()
    with pytest.raises(ReviewRefused, match="Impression is 10,001 characters long"):
        sign_findings(draft, users["bob"])
    assert not Report.objects.exists()


def test_an_overlong_addendum_is_refused_with_its_limit(login, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    url = reverse("exam-addendum", args=[exam.pk])
    page = post_refused(login("bob"), url, {"text": "y" * 500_000})
    assert f"The addendum is 500,000 characters long; the limit is {ADDENDUM_LIMIT:,}." in page
    assert not Addendum.objects.exists() and Report.objects.count() == 1
    form = AddendumForm({"text": "\n".join(["z"] * (LINE_LIMIT + 1))})
    assert form.errors["text"] == [f"The addendum has 1,001 lines; the limit is {LINE_LIMIT:,}."]


def test_an_exam_takes_a_bounded_number_of_addenda(exams, users, monkeypatch):
    monkeypatch.setattr("portal.reports.review.ADDENDA_LIMIT", 2)
    exam = exams["north"]
    sign(exam, users["bob"])
    add_addendum(exam, users["bob"], "One.")
    add_addendum(exam, users["bob"], "Two.")
    with pytest.raises(ReviewRefused, match="already has 2 addenda"):
        add_addendum(exam, users["bob"], "Three.")
    assert Addendum.objects.count() == 2 and Report.objects.count() == 3
    assert ADDENDA_LIMIT == 50
