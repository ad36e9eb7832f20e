"""A linked clinician's exam, from Clarius' notification to media in the institution's space."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.clarius import tasks
from integrations.clarius.ingestion.linking import link_token
from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal import storage
from portal.exams import media
from portal.exams.models import Capture, Exam
from tests.clarius.flow import deliver, link_confirmed, run_due_work


@pytest.fixture
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


@pytest.fixture
def clinician(clarius_settings, clarius_sandbox, bob, northside, media_root):
    sandbox_user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link = link_confirmed(sandbox_user, bob, northside)
    return sandbox_user, link


def test_an_uploaded_exam_lands_complete_in_the_institution(
    clarius_sandbox, clinician, bob, northside
):
    sandbox_user, _ = clinician
    request = clarius_sandbox.upload_exam(
        sandbox_user,
        captures=3,
        videos=1,
        notify=False,
        patient={"identifier": "MRN-00042", "first_name": "Ada", "last_name": "Lovelace"},
    )
    assert deliver(request).status_code == 202
    run_due_work()

    exam = Exam.objects.get()
    assert (exam.institution, exam.operator, exam.status) == (northside, bob, "ready")
    assert str(exam.exam_uuid) == request.exam_uuid
    assert [str(s.request_uuid) for s in exam.submissions.all()] == [request.request_uuid]
    captures = list(exam.captures.order_by("position"))
    assert len(captures) == 4
    kinds = {c.content_type for c in captures}
    assert "video/mp4" in kinds and kinds & {"image/png", "image/jpeg"}
    for capture in captures:
        path = storage.local_file(capture.file)
        assert path.stat().st_size == capture.size
        assert hashlib.sha256(path.read_bytes()).hexdigest() == capture.sha256
        assert capture.thumbnail and storage.local_file(capture.thumbnail).exists()
        assert capture.width and capture.height
        # A clip keeps its frame rate, so the viewer steps one real frame at a time.
        assert capture.frame_rate == (15 if capture.content_type == "video/mp4" else None)
    patient = exam.patient
    assert (patient.identifier, patient.display_name) == ("MRN-00042", "Ada Lovelace")
    assert NotificationReceipt.objects.get().state == "fetched"


def test_the_whole_chain_runs_from_the_queue_after_commit(
    clarius_sandbox, clinician, django_capture_on_commit_callbacks
):
    request = clarius_sandbox.upload_exam(clinician[0], captures=2, videos=0, notify=False)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(request)
    assert Exam.objects.get().status == "ready"


def test_an_animal_patient_keeps_its_fields(clarius_sandbox, clinician):
    request = clarius_sandbox.upload_exam(
        clinician[0], captures=1, videos=0, animal=True, notify=False
    )
    deliver(request)
    run_due_work()
    patient = Exam.objects.get().patient
    assert patient.is_animal
    assert patient.animal_name or patient.animal_type or patient.owner_name


def test_unknown_patient_fields_are_kept_and_missing_ones_are_blank(clarius_sandbox, clinician):
    request = clarius_sandbox.upload_exam(
        clinician[0],
        captures=1,
        videos=0,
        notify=False,
        patient={"identifier": "MRN-1", "ward": "B4"},
    )
    deliver(request)
    run_due_work()
    patient = Exam.objects.get().patient
    assert patient.identifier == "MRN-1"
    assert patient.first_name == "" and patient.date_of_birth is None
    assert patient.extra.get("ward") == "B4"


def test_a_resubmitted_exam_is_one_exam_with_two_submissions(clarius_sandbox, clinician):
    first = clarius_sandbox.upload_exam(clinician[0], captures=1, videos=0, notify=False)
    second = clarius_sandbox.upload_exam(
        clinician[0], captures=1, videos=0, notify=False, exam_uuid=first.exam_uuid
    )
    deliver(first)
    deliver(second)
    run_due_work()
    exam = Exam.objects.get()
    assert exam.submissions.count() == 2
    assert exam.last_submitted_at >= exam.first_submitted_at


def test_running_the_work_twice_changes_nothing(clarius_sandbox, clinician):
    request = clarius_sandbox.upload_exam(clinician[0], captures=2, videos=0, notify=False)
    deliver(request)
    run_due_work()
    receipt = NotificationReceipt.objects.get()
    assert tasks.fetch_receipt(receipt.pk) == "not due"
    for capture in Capture.objects.all():
        assert tasks.download_capture(capture.pk) == "not due"
    assert Capture.objects.count() == 2


def test_a_notification_for_an_unknown_customer_waits_and_lands_once_linked(
    clarius_sandbox, clarius_settings, bob, northside, media_root
):
    sandbox_user = clarius_sandbox.add_user("Late Linker")
    request = clarius_sandbox.upload_exam(sandbox_user, captures=1, videos=0, notify=False)
    deliver(request)
    receipt = NotificationReceipt.objects.get()
    assert receipt.state == "unassigned"
    assert not Exam.objects.exists()

    link_confirmed(sandbox_user, bob, northside)
    receipt.refresh_from_db()
    assert receipt.state == "pending" and receipt.link is not None
    run_due_work()
    assert Exam.objects.get().institution == northside


def test_a_confirmation_answered_404_rejects_the_link(clarius_settings, bob, northside):
    link = link_token(bob, northside, "NotKnownToClarius-0123456789").link
    assert tasks.confirm_link(link.pk) == "rejected"
    link.refresh_from_db()
    assert link.state == ClariusLink.State.REJECTED
    assert "does not know this account" in link.last_error
    assert link.next_attempt_at is None


def test_a_confirmation_failing_with_503_is_retried_with_backoff(
    clarius_sandbox, clarius_settings, bob, northside
):
    sandbox_user = clarius_sandbox.add_user("Flaky")
    link = link_token(bob, northside, sandbox_user.customer_token).link
    clarius_sandbox.inject(r"customer-confirmations", status=503, count=1)
    before = timezone.now()
    assert tasks.confirm_link(link.pk) == "retry"
    link.refresh_from_db()
    assert link.state == "pending" and link.attempts == 1
    assert "503" in link.last_error
    assert before < link.next_attempt_at < before + timedelta(minutes=1)
    assert tasks.confirm_link(link.pk) == "not due"  # backing off

    ClariusLink.objects.filter(pk=link.pk).update(next_attempt_at=timezone.now())
    assert tasks.confirm_link(link.pk) == "confirmed"


def test_a_fetch_that_times_out_is_retried_and_then_succeeds(clarius_sandbox, clinician, settings):
    settings.CLARIUS_TIMEOUT_READ = 0.5
    request = clarius_sandbox.upload_exam(clinician[0], captures=1, videos=0, notify=False)
    deliver(request)
    receipt = NotificationReceipt.objects.get()
    clarius_sandbox.inject(r"download-requests", timeout=True, count=4)
    assert tasks.fetch_receipt(receipt.pk) == "retry"
    receipt.refresh_from_db()
    assert receipt.state == "pending" and "timed out" in receipt.last_error.lower()

    NotificationReceipt.objects.filter(pk=receipt.pk).update(next_attempt_at=timezone.now())
    run_due_work()
    assert Exam.objects.get().status == "ready"


def test_injected_503s_on_exam_data_are_recovered(clarius_sandbox, clinician, settings):
    request = clarius_sandbox.upload_exam(clinician[0], captures=1, videos=0, notify=False)
    deliver(request)
    # More 503s than the client retries in one go: the task backs off and tries later.
    clarius_sandbox.inject(r"download-requests", status=503, count=5)
    receipt = NotificationReceipt.objects.get()
    assert tasks.fetch_receipt(receipt.pk) == "retry"
    NotificationReceipt.objects.filter(pk=receipt.pk).update(next_attempt_at=timezone.now())
    run_due_work()
    assert Exam.objects.get().status == "ready"


def test_a_failed_media_download_gets_a_fresh_link(
    clarius_sandbox, clinician, monkeypatch, django_capture_on_commit_callbacks
):
    request = clarius_sandbox.upload_exam(clinician[0], captures=1, videos=0, notify=False)
    deliver(request)
    tasks.fetch_receipt(NotificationReceipt.objects.get().pk)
    capture = Capture.objects.get()
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    clarius_sandbox.inject(r"/captures/", status=403, count=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.download_capture(capture.pk) == "retry"
    assert queued == [("integrations.clarius.tasks.refresh_links", capture.submission_id)]
    assert tasks.refresh_links(capture.submission_id) == "refreshed"
    capture.refresh_from_db()
    assert "403" in capture.last_error and capture.state == "pending"
    Capture.objects.filter(pk=capture.pk).update(next_attempt_at=timezone.now())
    assert tasks.download_capture(capture.pk) == "done"


def test_work_gives_up_visibly_after_bounded_attempts(clarius_sandbox, clinician, settings):
    request = clarius_sandbox.upload_exam(clinician[0], captures=1, videos=0, notify=False)
    deliver(request)
    receipt = NotificationReceipt.objects.get()
    clarius_sandbox.inject(r"download-requests", status=503, count=1000)
    from portal import work

    for _ in range(work.MAX_ATTEMPTS):
        NotificationReceipt.objects.filter(pk=receipt.pk).update(next_attempt_at=timezone.now())
        tasks.fetch_receipt(receipt.pk)
    receipt.refresh_from_db()
    assert receipt.state == "failed"
    assert receipt.attempts == work.MAX_ATTEMPTS
    assert "503" in receipt.last_error
    assert receipt.next_attempt_at is None


def test_a_clip_whose_frame_rate_cannot_be_read_has_none(tmp_path):
    damaged = tmp_path / "clip.mp4"
    damaged.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    assert media.clip_frame_rate(damaged) is None
