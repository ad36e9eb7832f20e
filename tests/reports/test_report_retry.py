"""The "retry now" button of a report on the exam page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.reports.models import Report
from tests.reports.conftest import sign


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: calls.append(a))
    return calls


@pytest.fixture
def failed(exams, users):
    report = sign(exams["north"], users["bob"])
    Report.objects.filter(pk=report.pk).update(
        state="failed", attempts=8, next_attempt_at=None, last_error="HTTP 503"
    )
    return report


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_it_schedules_a_failed_report_again_now(
    login, exams, failed, viewer, queued, django_capture_on_commit_callbacks
):
    url = reverse("report-retry", args=[exams["north"].pk, failed.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = login(viewer).post(url)
    assert response.url == reverse("exam-detail", args=[exams["north"].pk]) + "#reports"
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("pending", 0)
    assert failed.next_attempt_at <= timezone.now()
    assert queued == [("portal.reports.tasks.push_report", failed.pk)]


def test_it_cuts_a_backoff_short(login, exams, users, queued, django_capture_on_commit_callbacks):
    report = sign(exams["north"], users["bob"])
    later = timezone.now() + timedelta(minutes=5)
    Report.objects.filter(pk=report.pk).update(attempts=2, next_attempt_at=later, last_error="x")
    with django_capture_on_commit_callbacks(execute=True):
        login("bob").post(reverse("report-retry", args=[exams["north"].pk, report.pk]))
    report.refresh_from_db()
    assert report.next_attempt_at <= timezone.now()
    assert len(queued) == 1


def test_it_leaves_a_report_a_worker_holds_alone(login, exams, users, queued):
    report = sign(exams["north"], users["bob"])
    held = timezone.now() + timedelta(minutes=5)
    Report.objects.filter(pk=report.pk).update(claimed_until=held, attempts=1)
    url = reverse("report-retry", args=[exams["north"].pk, report.pk])
    response = login("bob").post(url, follow=True)
    assert "being sent right now or was sent already" in response.content.decode()
    report.refresh_from_db()
    assert (report.claimed_until, report.attempts) == (held, 1)


def test_it_never_pushes_a_delivered_report_again(login, exams, users, queued):
    report = sign(exams["north"], users["bob"])
    Report.objects.filter(pk=report.pk).update(state="pushed", next_attempt_at=None)
    login("bob").post(reverse("report-retry", args=[exams["north"].pk, report.pk]))
    report.refresh_from_db()
    assert report.state == "pushed" and report.next_attempt_at is None


def test_it_refuses_a_clinician_with_403(login, exams, users):
    exam = exams["alice_south"]
    report = sign(exam, users["charlie"])
    Report.objects.filter(pk=report.pk).update(state="failed")
    response = login("alice", "southside").post(reverse("report-retry", args=[exam.pk, report.pk]))
    assert response.status_code == 403
    report.refresh_from_db()
    assert report.state == "failed"


def test_it_answers_404_to_charlie(login, exams, failed):
    url = reverse("report-retry", args=[exams["north"].pk, failed.pk])
    assert login("charlie").post(url).status_code == 404


def test_it_answers_404_for_a_report_under_another_exams_url(login, exams, failed):
    # charlie may review Southside's exam, but the report belongs to Northside's.
    url = reverse("report-retry", args=[exams["charlie_south"].pk, failed.pk])
    assert login("charlie").post(url).status_code == 404
    failed.refresh_from_db()
    assert failed.state == "failed"
