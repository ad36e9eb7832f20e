"""Reports pushed to Clarius (the sandbox, over HTTP): success, backoff, giving up, retry."""

from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from portal import storage
from portal.exams.models import Exam
from portal.reports import tasks
from portal.reports.models import Delivery, Report
from portal.work import MAX_ATTEMPTS, sweeper
from tests.clarius.flow import deliver, link_confirmed, run_due_work
from tests.reports.conftest import sign, worksheet_post


@pytest.fixture
def sandbox_user(clarius_settings, clarius_sandbox, bob, northside):
    user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link_confirmed(user, bob, northside)
    return user


@pytest.fixture
def ingested(clarius_sandbox, sandbox_user):
    """A real exam from the sandbox, ingested with its media: (exam, sandbox request)."""
    request = clarius_sandbox.upload_exam(sandbox_user, captures=2, videos=1, notify=False)
    deliver(request)
    run_due_work()
    return Exam.objects.get(), request


def sandbox_reports(sandbox, request_uuid):
    """The reports the sandbox holds for one submission, read over its control API."""
    exams = requests.get(f"{sandbox.api_origin}/_sandbox/exams", timeout=10).json()
    exams = exams.get("exams", exams) if isinstance(exams, dict) else exams
    for exam in exams:
        for submission in exam["submissions"]:
            if submission["request_uuid"] == request_uuid:
                return submission["reports"]
    raise AssertionError(f"the sandbox does not know {request_uuid}")


def sign_on_the_page(client, exam, capture):
    with capture(execute=True):  # the push runs after commit, as the worker would
        response = client.post(reverse("exam-sign", args=[exam.pk]), worksheet_post(exam))
    assert response.status_code == 302
    return Report.objects.filter(exam=exam).order_by("-version").first()


def make_due(report):
    """Let the backoff pass."""
    past = timezone.now() - timedelta(1)
    Report.objects.filter(pk=report.pk).update(next_attempt_at=past)
    Delivery.objects.filter(report_id=report.pk, next_attempt_at__isnull=False).update(
        next_attempt_at=past
    )


def test_it_pushes_the_signed_report_to_clarius(
    client, bob, ingested, clarius_sandbox, django_capture_on_commit_callbacks
):
    exam, request = ingested
    client.force_login(bob)
    report = sign_on_the_page(client, exam, django_capture_on_commit_callbacks)
    assert (report.state, report.attempts, report.last_error) == ("pushed", 1, "")
    [delivery] = report.deliveries.all()
    assert report.pushed_at is not None and delivery.remote_id
    assert (delivery.destination, delivery.state) == ("clarius", "sent")
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.REPORTED

    [received] = sandbox_reports(clarius_sandbox, request.request_uuid)
    assert received["name"] == report.name
    assert received["name"].startswith("Ultrasound report — signed ")
    assert (received["id"], received["sha256"]) == (delivery.remote_id, report.sha256)
    assert received["content_type"] == "application/pdf"
    assert received["filename"] == report.filename
    page = requests.get(clarius_sandbox.pages_url, timeout=10).text
    assert report.name in page


def test_its_key_images_are_the_ingested_captures(bob, ingested, client):
    exam, _ = ingested
    report = sign(exam, bob)
    reader = PdfReader(storage.local_file(report.file))
    # Two images, the clip left out (the PDF's pages share one list of images: by name).
    assert len({image.name for page in reader.pages for image in page.images}) == 2


def test_it_pushes_to_the_latest_submission_of_a_resubmitted_exam(
    client, bob, ingested, clarius_sandbox, sandbox_user, django_capture_on_commit_callbacks
):
    exam, first = ingested
    again = clarius_sandbox.upload_exam(
        sandbox_user, captures=1, videos=0, exam_uuid=first.exam_uuid, notify=False
    )
    deliver(again)
    run_due_work()
    assert exam.submissions.count() == 2
    client.force_login(bob)
    report = sign_on_the_page(client, exam, django_capture_on_commit_callbacks)
    assert str(report.submission.request_uuid) == again.request_uuid
    assert [r["name"] for r in sandbox_reports(clarius_sandbox, again.request_uuid)] == [
        report.name
    ]
    assert sandbox_reports(clarius_sandbox, first.request_uuid) == []


def test_it_retries_a_503_with_backoff_then_pushes(
    client, bob, ingested, clarius_sandbox, django_capture_on_commit_callbacks
):
    exam, request = ingested
    clarius_sandbox.inject("reports/", "POST", status=503, count=1)
    client.force_login(bob)
    before = timezone.now()
    report = sign_on_the_page(client, exam, django_capture_on_commit_callbacks)

    assert (report.state, report.attempts) == ("pending", 1)
    assert "503" in report.last_error
    assert before + timedelta(seconds=3) <= report.next_attempt_at
    assert report.next_attempt_at <= timezone.now() + timedelta(seconds=21)
    assert report.claimed_until is None
    assert tasks.push_report(report.pk) == "not due"  # backing off
    assert sandbox_reports(clarius_sandbox, request.request_uuid) == []
    exam.refresh_from_db()
    assert exam.review_state == "signed"

    make_due(report)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeper.sweep()["Report"] == 1
    report.refresh_from_db()
    assert (report.state, report.attempts, report.last_error) == ("pushed", 2, "")
    assert [r["name"] for r in sandbox_reports(clarius_sandbox, request.request_uuid)] == [
        report.name
    ]
    exam.refresh_from_db()
    assert exam.review_state == "reported"


def test_it_retries_a_network_failure(settings, bob, ingested, clarius_sandbox):
    settings.CLARIUS_TIMEOUT_READ = 1
    exam, _ = ingested
    report = sign(exam, bob)
    clarius_sandbox.inject("reports/", "POST", timeout=True, count=1)
    assert tasks.push_report(report.pk) == "retry"
    report.refresh_from_db()
    assert report.state == "pending" and report.last_error


def test_it_gives_up_after_the_last_attempt_and_a_person_retries(
    client, bob, ingested, clarius_sandbox, django_capture_on_commit_callbacks
):
    exam, request = ingested
    clarius_sandbox.inject("reports/", "POST", status=503, count=MAX_ATTEMPTS)
    client.force_login(bob)
    report = sign_on_the_page(client, exam, django_capture_on_commit_callbacks)
    for _ in range(MAX_ATTEMPTS - 1):
        make_due(report)
        tasks.push_report(report.pk)
    report.refresh_from_db()
    assert (report.state, report.attempts, report.next_attempt_at) == (
        "failed",
        MAX_ATTEMPTS,
        None,
    )
    assert "503" in report.last_error
    assert sweeper.sweep()["Report"] == 0  # a failed report waits for a person

    page = client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Not sent to Clarius" in page
    assert (
        f"Clarius answered with an error (HTTP 503). Gave up after {MAX_ATTEMPTS} attempts" in page
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("report-retry", args=[exam.pk, report.pk]))
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.state, report.attempts) == ("pushed", 1)
    assert len(sandbox_reports(clarius_sandbox, request.request_uuid)) == 1


def test_it_gives_up_at_once_on_a_permanent_error(bob, ingested, clarius_sandbox):
    exam, _ = ingested
    report = sign(exam, bob)
    clarius_sandbox.inject("reports/", "POST", status=400, body='{"file": ["bad"]}', count=1)
    assert tasks.push_report(report.pk) == "failed"
    report.refresh_from_db()
    assert report.state == "failed" and "400" in report.last_error


def test_it_fails_a_report_whose_file_is_gone_without_calling_clarius(
    bob, ingested, clarius_sandbox
):
    exam, request = ingested
    report = sign(exam, bob)
    storage.local_file(report.file).unlink()
    assert tasks.push_report(report.pk) == "failed"
    report.refresh_from_db()
    assert "missing" in report.last_error
    assert sandbox_reports(clarius_sandbox, request.request_uuid) == []


def test_it_pushes_each_addendum_as_a_new_version(
    client, bob, ingested, clarius_sandbox, django_capture_on_commit_callbacks
):
    exam, request = ingested
    client.force_login(bob)
    first = sign_on_the_page(client, exam, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exam-addendum", args=[exam.pk]), {"text": "CBD 4 mm."})
    second = Report.objects.get(exam=exam, version=2)
    assert second.state == "pushed"
    names = [r["name"] for r in sandbox_reports(clarius_sandbox, request.request_uuid)]
    assert names == [first.name, second.name]
    assert "addendum 1, " in names[1]
    exam.refresh_from_db()
    assert exam.review_state == "reported"


def test_it_does_nothing_for_a_report_already_pushed(bob, ingested, clarius_sandbox):
    exam, request = ingested
    report = sign(exam, bob)
    assert tasks.push_report(report.pk) == "pushed"
    assert tasks.push_report(report.pk) == "not due"
    assert len(sandbox_reports(clarius_sandbox, request.request_uuid)) == 1
