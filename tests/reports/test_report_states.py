"""A report version's state in words (portal.reports.states): the badge and the sentence
on the exam page and in reports.json, the raw error only as detail for staff."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from portal import work
from portal.reports.models import Report
from portal.reports.states import report_state
from tests.reports.conftest import sign

BOOM = 'POST http://clarius.test/services/requests/x/reports/ → HTTP 500: {"detail": "boom"}'


def retrying(report, attempts=2, error=BOOM, seconds=110):
    Report.objects.filter(pk=report.pk).update(
        state="pending",
        size=1,
        attempts=attempts,
        last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=seconds),
    )
    report.refresh_from_db()
    return report


def test_a_version_on_its_way_is_sending(exams, users):
    report = sign(exams["north"], users["bob"])
    Report.objects.filter(pk=report.pk).update(state="pending", size=1)
    report.refresh_from_db()
    state = report_state(report)
    assert (state.tone, state.badge, state.summary) == ("sending", "Sending to Clarius", "")


def test_a_version_being_made_says_so(exams, users):
    report = sign(exams["north"], users["bob"], build=False)
    assert report_state(report).tone == "making"


def test_a_failed_push_waiting_for_its_retry_says_why_and_when(exams, users):
    report = retrying(sign(exams["north"], users["bob"]))
    state = report_state(report)
    assert (state.tone, state.badge) == ("retrying", "Retrying to send to Clarius")
    assert state.summary == (
        "Clarius answered with an error (HTTP 500); retrying in 2 minutes, "
        f"attempt 3 of {work.MAX_ATTEMPTS}."
    )


def test_an_unreachable_clarius_is_said_so(exams, users):
    report = retrying(
        sign(exams["north"], users["bob"]),
        error="POST http://x/: connection failed (ConnectionError)",
    )
    assert report_state(report).summary.startswith("Clarius could not be reached; retrying in")


def test_a_version_given_up_offers_the_retry(exams, users):
    report = sign(exams["north"], users["bob"])
    Report.objects.filter(pk=report.pk).update(
        state="failed", size=1, attempts=work.MAX_ATTEMPTS, next_attempt_at=None, last_error=BOOM
    )
    report.refresh_from_db()
    state = report_state(report)
    assert (state.tone, state.badge) == ("failed", "Not sent to Clarius")
    assert state.summary == (
        f"Clarius answered with an error (HTTP 500). Gave up after {work.MAX_ATTEMPTS} "
        "attempts: Retry now."
    )
    assert report_state(report, can_retry_by_hand=False).summary.endswith(
        "a reviewer can retry it."
    )


def test_a_pdf_that_could_not_be_made_says_so(exams, users):
    report = sign(exams["north"], users["bob"], build=False)
    Report.objects.filter(pk=report.pk).update(
        attempts=1, last_error="OSError: disk full", next_attempt_at=timezone.now()
    )
    report.refresh_from_db()
    state = report_state(report)
    assert (state.tone, state.badge) == ("retrying", "Retrying the PDF")
    assert state.summary.startswith("The PDF could not be made; retrying now, attempt 2 of")


def test_reports_json_sends_the_same_words(login, exams, users):
    exam = exams["north"]
    report = retrying(sign(exam, users["bob"]))
    row = login("bob").get(reverse("exam-reports-json", args=[exam.pk])).json()["reports"][0]
    assert (row["tone"], row["badge"]) == ("retrying", "Retrying to send to Clarius")
    assert row["summary"] == report_state(report).summary
    assert row["last_error"] == BOOM


def test_the_raw_error_is_not_sent_to_a_clinician(login, exams, users):
    exam = exams["alice_south"]
    report = retrying(sign(exam, users["charlie"]))
    row = login("alice", "southside").get(reverse("exam-reports-json", args=[exam.pk])).json()
    [row] = row["reports"]
    assert row["last_error"] == ""
    assert row["summary"].startswith("Clarius answered with an error (HTTP 500)")
    assert row["id"] == report.pk


def test_the_exam_page_shows_the_words_and_keeps_the_detail_for_staff(login, exams, users):
    exam = exams["north"]
    retrying(sign(exam, users["bob"]))
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Retrying to send to Clarius" in page
    assert "Clarius answered with an error (HTTP 500); retrying in" in page
    assert "<summary>Technical detail</summary>" in page
    assert "HTTP 500: {&quot;detail&quot;: &quot;boom&quot;}" in page
