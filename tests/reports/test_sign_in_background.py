"""Signing answers at once: the PDF is made by the worker, then pushed.

The sign request records the signature and a report version *generating*, and leaves
the PDF to the task it queues after commit (tests run django-q2 in sync mode, so the
task runs when the test lets the commit callbacks run). Nothing accepted is lost: a
version whose task never ran is found by the sweeper; a failed drawing is retried and
shown with its error.
"""

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from portal import storage
from portal.reports import pdf, tasks
from portal.reports.issuing import retry_report
from portal.reports.limits import FINDINGS_LIMITS, LINE_LIMIT
from portal.reports.models import Delivery, Report
from portal.reports.review import add_addendum
from portal.work import MAX_ATTEMPTS, sweeper
from tests.reports.conftest import built, sign, worksheet_post


class FakeClarius:
    """Takes every report it is sent (a stand-in for the Service API client)."""

    def __init__(self):
        self.uploads = []

    def upload_report(self, request_uuid, name, path, *, filename):
        self.uploads.append((request_uuid, name, path.read_bytes()))
        return type("Receipt", (), {"extra": {"id": f"r-{len(self.uploads)}"}})()

    def close(self):
        pass


@pytest.fixture
def clarius(monkeypatch):
    fake = FakeClarius()
    monkeypatch.setattr("integrations.clarius.clients.service_client", lambda: fake)
    return fake


@pytest.fixture
def drawings(monkeypatch):
    """Every call of the PDF builder, still drawing the real PDF."""
    calls = []
    real = pdf.render_report

    def recording(path, **kwargs):
        calls.append(kwargs["version"])
        return real(path, **kwargs)

    monkeypatch.setattr(pdf, "render_report", recording)
    return calls


def largest_allowed(exam):
    """Every text field of the worksheet at its limit, in as many lines as allowed."""
    fields = {}
    for name, limit in FINDINGS_LIMITS.items():
        if name == "views_obtained":  # kept for old worksheets; the page no longer edits it
            continue
        line = ("echogenic focus " * 8)[: limit // LINE_LIMIT - 1]
        fields[name] = "\n".join([line] * LINE_LIMIT)
    return {**worksheet_post(exam), **fields}


def make_due(report):
    past = timezone.now() - timedelta(1)
    Report.objects.filter(pk=report.pk).update(next_attempt_at=past)
    Delivery.objects.filter(report_id=report.pk, next_attempt_at__isnull=False).update(
        next_attempt_at=past
    )


def test_the_sign_request_queues_the_pdf_instead_of_drawing_it(
    login, exams, drawings, clarius, django_capture_on_commit_callbacks
):
    exam = exams["north"]
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        response = login("bob").post(reverse("exam-sign", args=[exam.pk]), worksheet_post(exam))
    assert response.status_code == 302
    assert drawings == []  # nothing was drawn while the request ran
    report = Report.objects.get(exam=exam)
    assert not storage.local_file(report.file).exists()
    assert (report.state, report.has_pdf, report.attempts) == ("generating", False, 0)
    assert report.next_attempt_at <= timezone.now()  # due now, for the worker or sweeper
    assert len(after_commit) == 1  # the nudge, sent once the signature is committed

    after_commit[0]()  # the worker's turn
    assert drawings == [1]
    report.refresh_from_db()
    assert (report.state, report.attempts, report.last_error) == ("pushed", 1, "")
    path = storage.local_file(report.file)
    assert report.size == path.stat().st_size and len(report.sha256) == 64
    assert clarius.uploads == [
        (str(exam.submissions.get().request_uuid), report.name, path.read_bytes())
    ]


def test_the_largest_allowed_findings_are_signed_without_waiting_for_their_pdf(
    login, exams, drawings, clarius, django_capture_on_commit_callbacks
):
    exam = exams["north"]
    client = login("bob")
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        started = time.monotonic()
        response = client.post(reverse("exam-sign", args=[exam.pk]), largest_allowed(exam))
        elapsed = time.monotonic() - started
    assert response.status_code == 302, response.content[:2000]
    assert drawings == [] and Report.objects.get().state == "generating"
    assert elapsed < 5  # a request, not a PDF (typically tens of milliseconds)

    after_commit[0]()  # the worker draws it (its speed is the benchmarks' business)
    report = Report.objects.get()
    assert (report.state, drawings) == ("pushed", [1])
    assert len(PdfReader(storage.local_file(report.file)).pages) > 50


def test_an_addendum_and_the_api_leave_the_pdf_to_the_worker_too(
    login, exams, users, drawings, django_capture_on_commit_callbacks
):
    exam = exams["north"]
    sign(exam, users["bob"])
    drawings.clear()
    client = login("bob")
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("exam-addendum", args=[exam.pk]), {"text": "CBD 4 mm."})
        response = client.post(reverse("api-exam-reports", args=[exam.pk]), {"name": "Final"})
    assert response.status_code == 201 and response.json()["state"] == "generating"
    assert drawings == []
    assert list(Report.objects.order_by("version").values_list("state", flat=True)) == [
        "pending",
        "generating",
        "generating",
    ]


def test_a_version_whose_nudge_was_lost_is_drawn_and_pushed_by_the_sweeper(
    exams, users, clarius, django_capture_on_commit_callbacks
):
    # As after a crash between the commit and the enqueue: the row is all there is.
    report = sign(exams["north"], users["bob"], build=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeper.sweep()["Report"] == 1
    report.refresh_from_db()
    assert (report.state, report.has_pdf) == ("pushed", True)
    assert len(clarius.uploads) == 1


def test_a_worker_that_dies_while_drawing_leaves_the_version_to_the_sweeper(
    exams, users, clarius, django_capture_on_commit_callbacks
):
    report = sign(exams["north"], users["bob"], build=False)
    expired = timezone.now() - timedelta(seconds=1)
    Report.objects.filter(pk=report.pk).update(attempts=1, claimed_until=expired)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeper.sweep()["Report"] == 1
    report.refresh_from_db()
    assert report.state == "pushed"


def test_a_failed_drawing_is_retried_with_backoff_and_shown_with_its_error(
    login, exams, users, clarius, monkeypatch, django_capture_on_commit_callbacks
):
    exam = exams["north"]
    report = sign(exam, users["bob"], build=False)
    real = pdf.render_report

    def broken(path, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pdf, "render_report", broken)
    before = timezone.now()
    assert tasks.push_report(report.pk) == "retry"
    report.refresh_from_db()
    assert (report.state, report.attempts, report.has_pdf) == ("generating", 1, False)
    assert report.last_error.startswith("making the PDF failed: OSError")
    assert "No space left on device" in report.last_error
    assert report.next_attempt_at >= before + timedelta(seconds=3)
    assert report.claimed_until is None and report.can_retry
    assert tasks.push_report(report.pk) == "not due"  # backing off

    client = login("bob")
    page = client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Retrying the PDF" in page and "No space left on device" in page
    # "in 3 seconds", or "now" when a loaded machine took longer than the back-off
    assert re.search(r"The PDF could not be made; retrying (in|now)", page)
    row = client.get(reverse("exam-reports-json", args=[exam.pk])).json()["reports"][0]
    assert (row["state"], row["can_retry"], row["has_pdf"]) == ("generating", True, False)
    assert "No space left on device" in row["last_error"]

    monkeypatch.setattr(pdf, "render_report", real)
    make_due(report)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeper.sweep()["Report"] == 1
    report.refresh_from_db()
    assert (report.state, report.last_error, report.has_pdf) == ("pushed", "", True)
    assert report.attempts == 1  # the push counts its own attempts


def test_a_drawing_that_keeps_failing_gives_up_visibly_and_a_person_retries_it(
    login, exams, users, clarius, monkeypatch, django_capture_on_commit_callbacks
):
    exam = exams["north"]
    report = sign(exam, users["bob"], build=False)
    real = pdf.render_report
    monkeypatch.setattr(pdf, "render_report", lambda path, **kw: 1 / 0)
    for _ in range(MAX_ATTEMPTS):
        make_due(report)
        tasks.push_report(report.pk)
    report.refresh_from_db()
    assert (report.state, report.attempts, report.next_attempt_at) == (
        "failed",
        MAX_ATTEMPTS,
        None,
    )
    assert "ZeroDivisionError" in report.last_error
    assert sweeper.sweep()["Report"] == 0  # a failed version waits for a person
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "PDF not made" in page and "ZeroDivisionError" in page
    assert f"The PDF could not be made. Gave up after {MAX_ATTEMPTS} attempts" in page

    monkeypatch.setattr(pdf, "render_report", real)
    with django_capture_on_commit_callbacks(execute=True):
        response = login("bob").post(reverse("report-retry", args=[exam.pk, report.pk]))
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.state, report.has_pdf) == ("pushed", True)


def test_retrying_a_version_without_its_pdf_draws_it_again(exams, users, monkeypatch):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    report = sign(exams["north"], users["bob"], build=False)
    Report.objects.filter(pk=report.pk).update(state="failed", next_attempt_at=None)
    assert retry_report(report)
    report.refresh_from_db()
    assert (report.state, report.attempts) == ("generating", 0)


def test_the_admin_retries_a_failed_drawing_as_a_drawing(
    client, exams, users, monkeypatch, django_capture_on_commit_callbacks
):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    report = sign(exams["north"], users["bob"], build=False)
    Report.objects.filter(pk=report.pk).update(
        state="failed", attempts=8, next_attempt_at=None, last_error="making the PDF failed: x"
    )
    changelist = reverse("admin:reports_report_changelist")
    assert "making the PDF failed" in client.get(changelist).content.decode()
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "retry_now", "_selected_action": [report.pk]})
    report.refresh_from_db()
    assert (report.state, report.attempts) == ("generating", 0)
    assert queued == [("portal.reports.tasks.push_report", report.pk)]


def test_a_version_drawn_late_carries_only_the_addenda_it_was_issued_with(exams, users):
    exam = exams["north"]
    first = sign(exam, users["bob"], build=False)
    _, second = add_addendum(exam, users["bob"], "Seen again: CBD 4 mm.")
    first, second = built(first), built(second)
    text = lambda r: " ".join(p.extract_text() for p in PdfReader(storage.local_file(r.file)).pages)  # noqa: E731
    assert "Addendum 1" not in text(first)
    assert "Addendum 1" in text(second) and "CBD 4 mm." in text(second)


def test_the_page_names_a_version_being_made_and_offers_no_download_yet(login, exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"], build=False)
    client = login("bob")
    page = client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert 'data-state="generating"' in page and "Making the PDF" in page
    download = reverse("report-download", args=[exam.pk, report.pk])
    assert f'href="{download}" data-field="download" hidden' in page
    assert client.get(download).status_code == 404
    data = client.get(reverse("exam-reports-json", args=[exam.pk])).json()
    assert data["pending"] is True and data["reports"][0]["has_pdf"] is False
    built(report)
    assert client.get(download).status_code == 200


def test_the_exam_is_reported_only_once_no_version_is_being_made(exams, users, clarius):
    exam = exams["north"]
    first = sign(exam, users["bob"])
    add_addendum(exam, users["bob"], "More.")  # version 2, still generating
    assert tasks.push_report(first.pk) == "pushed"
    exam.refresh_from_db()
    assert exam.review_state == "signed"
