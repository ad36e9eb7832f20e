"""Resubmissions: Clarius sends an exam's captures again with each later submission.

The same captures again plus one new one → one copy of each shown (the exam page, the
API), the copies' files gone and the originals' kept; the new one flagged when it
arrived after the findings were signed, and the exam flagged with it.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from integrations.clarius import tasks
from integrations.clarius.models import NotificationReceipt
from portal import events, storage
from portal.exams import media
from portal.exams.captures import is_signed, shown
from portal.exams.models import Capture, Exam
from portal.reports.models import Findings
from tests.clarius.flow import deliver, link_confirmed, run_due_work
from tests.factories import make_exam


@pytest.fixture
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


@pytest.fixture
def clinician(clarius_settings, clarius_sandbox, bob, northside, media_root):
    sandbox_user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link_confirmed(sandbox_user, bob, northside)
    return sandbox_user


@pytest.fixture
def announced(monkeypatch):
    """The ``exam.ready`` events emitted, by exam id."""
    seen = []

    def record(event_type, exam, **data):
        if event_type == events.EXAM_READY:
            seen.append(exam.pk)

    monkeypatch.setattr(events, "_subscribers", [record])
    return seen


def receive(request, on_commit):
    """Deliver the notification and run the work, running what waits for the commit."""
    with on_commit(execute=True):
        deliver(request)
        run_due_work()


def sign(exam):
    Exam.objects.filter(pk=exam.pk).update(
        signed_at=timezone.now() - timedelta(minutes=1), review_state=Exam.ReviewState.SIGNED
    )


def gallery(client, exam):
    response = client.get(reverse("exam-detail", args=[exam.pk]))
    assert response.status_code == 200
    return [c.pk for c in response.context["captures"]]


def api_captures(client, exam):
    listing = client.get(reverse("api-exam-captures", args=[exam.pk])).json()["results"]
    document = client.get(reverse("api-exam-detail", args=[exam.pk])).json()
    assert document["captures_count"] == len(listing)
    assert [c["id"] for c in document["captures"]] == [c["id"] for c in listing]
    return [c["id"] for c in listing]


def test_the_same_captures_again_plus_one_new_after_signing(
    clarius_sandbox, clinician, client, bob, announced, django_capture_on_commit_callbacks
):
    first = clarius_sandbox.upload_exam(clinician, captures=3, videos=1, notify=False)
    receive(first, django_capture_on_commit_callbacks)
    exam = Exam.objects.get()
    originals = list(exam.captures.order_by("position"))
    assert len(originals) == 4 and announced == [exam.pk]
    sign(exam)

    second = clarius_sandbox.upload_exam(
        clinician, captures=1, videos=0, notify=False, exam_uuid=first.exam_uuid
    )
    receive(second, django_capture_on_commit_callbacks)

    exam.refresh_from_db()
    assert exam.status == Exam.Status.READY and exam.submissions.count() == 2
    assert exam.new_images_since_signing is True
    again = list(exam.captures.filter(submission__request_uuid=second.request_uuid))
    assert len(again) == 5
    for original, copy in zip(originals, again[:4], strict=True):
        assert copy.state == Capture.State.DONE
        assert copy.duplicate_of_id == original.pk and copy.sha256 == original.sha256
        assert (copy.file, copy.thumbnail) == (original.file, original.thumbnail)
        assert not copy.after_signing
        assert storage.local_file(original.file).exists()
        assert storage.local_file(original.thumbnail).exists()
        # The copy's own download was removed once its row pointed at the original.
        directory = storage.local_file(media.capture_dir(copy))
        assert not list(directory.glob(f"{copy.position:03d}.*"))
    new = again[4]
    assert new.duplicate_of is None and new.after_signing is True
    assert storage.local_file(new.file).exists()
    assert [c.after_signing for c in originals] == [False] * 4

    shown_ids = [c.pk for c in originals] + [new.pk]
    assert list(shown(exam.captures.all()).values_list("pk", flat=True)) == shown_ids
    client.force_login(bob)
    assert gallery(client, exam) == shown_ids
    assert api_captures(client, exam) == shown_ids
    # Something new arrived, so the exam is announced ready again.
    assert announced == [exam.pk, exam.pk]


def test_a_resubmission_before_signing_flags_nothing(
    clarius_sandbox, clinician, client, bob, django_capture_on_commit_callbacks
):
    first = clarius_sandbox.upload_exam(clinician, captures=2, videos=0, notify=False)
    receive(first, django_capture_on_commit_callbacks)
    second = clarius_sandbox.upload_exam(
        clinician, captures=1, videos=0, notify=False, exam_uuid=first.exam_uuid
    )
    receive(second, django_capture_on_commit_callbacks)

    exam = Exam.objects.get()
    assert exam.new_images_since_signing is False
    assert not exam.captures.filter(after_signing=True).exists()
    assert exam.captures.count() == 5
    assert exam.captures.filter(duplicate_of__isnull=False).count() == 2
    client.force_login(bob)
    assert len(gallery(client, exam)) == 3
    assert len(api_captures(client, exam)) == 3


def test_the_same_captures_only_after_signing_flag_nothing_and_announce_nothing(
    clarius_sandbox, clinician, announced, django_capture_on_commit_callbacks
):
    first = clarius_sandbox.upload_exam(clinician, captures=2, videos=0, notify=False)
    receive(first, django_capture_on_commit_callbacks)
    exam = Exam.objects.get()
    sign(exam)
    second = clarius_sandbox.upload_exam(
        clinician, captures=0, videos=0, notify=False, exam_uuid=first.exam_uuid
    )
    receive(second, django_capture_on_commit_callbacks)

    exam.refresh_from_db()
    assert exam.status == Exam.Status.READY
    assert exam.new_images_since_signing is False
    assert shown(exam.captures.all()).count() == 2
    assert exam.captures.filter(duplicate_of__isnull=False).count() == 2
    assert announced == [exam.pk]  # ready once, not again for copies


def test_two_submissions_downloading_at_once_keep_one_copy_of_each(
    clarius_sandbox, clinician, django_capture_on_commit_callbacks
):
    """Both submissions are fetched before any capture downloads: whichever copy of an
    image finishes first is the original, the other its duplicate."""
    first = clarius_sandbox.upload_exam(clinician, captures=2, videos=0, notify=False)
    second = clarius_sandbox.upload_exam(
        clinician, captures=1, videos=0, notify=False, exam_uuid=first.exam_uuid
    )
    with django_capture_on_commit_callbacks(execute=True):
        deliver(first)
        deliver(second)
        # The resubmission's captures download first here.
        for capture in Capture.objects.order_by("-submission__submitted_at", "position"):
            tasks.download_capture(capture.pk)
        run_due_work()
    exam = Exam.objects.get()
    assert exam.status == Exam.Status.READY
    kept = list(shown(exam.captures.all()))
    assert len(kept) == 3 and len({c.sha256 for c in kept}) == 3
    for capture in exam.captures.all():
        assert storage.local_file(capture.file).exists()
        if capture.duplicate_of_id:
            assert capture.duplicate_of.duplicate_of_id is None


def test_a_copys_row_never_points_at_a_missing_file_before_the_commit(clarius_sandbox, clinician):
    """Without the commit (the test's transaction never commits) the copy's download
    stays on disk and its row already points at the original's file."""
    first = clarius_sandbox.upload_exam(clinician, captures=1, videos=0, notify=False)
    deliver(first)
    run_due_work()
    second = clarius_sandbox.upload_exam(
        clinician, captures=0, videos=0, notify=False, exam_uuid=first.exam_uuid
    )
    deliver(second)
    run_due_work()
    original, copy = Capture.objects.order_by("submission__submitted_at")
    assert copy.duplicate_of == original and copy.file == original.file
    assert storage.local_file(original.file).exists()
    assert list(storage.local_file(media.capture_dir(copy)).glob("000.*"))  # removed on commit


def test_signed_findings_count_as_signed(northside, bob):
    exam = make_exam(northside, bob, captures=0)
    assert not is_signed(exam)
    Findings.objects.create(
        institution=northside, exam=exam, impression="x", signed_at=timezone.now()
    )
    assert is_signed(exam)


@pytest.mark.django_db(transaction=True)
def test_two_copies_finishing_at_the_same_moment_make_one_original(
    clarius_sandbox, clarius_settings, bob, northside, media_root, monkeypatch
):
    """Two workers record the same image of two submissions at once: the exam row lock
    makes one the original and the other its duplicate, and the commit (a real one here)
    removes only the duplicate's own download."""
    monkeypatch.setattr("portal.work.registry.enqueue", lambda *args: None)
    # Nor does the fetch download them: the two downloads below are the ones raced.
    monkeypatch.setattr(
        "integrations.clarius.ingestion.media_fetch.download_captures", lambda *args: None
    )
    sandbox_user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link_confirmed(sandbox_user, bob, northside)
    first = clarius_sandbox.upload_exam(sandbox_user, captures=1, videos=0, notify=False)
    second = clarius_sandbox.upload_exam(
        sandbox_user, captures=0, videos=0, notify=False, exam_uuid=first.exam_uuid
    )
    for request in (first, second):
        deliver(request)
    for receipt in NotificationReceipt.objects.all():
        tasks.fetch_receipt(receipt.pk)
    pending = list(Capture.objects.values_list("pk", flat=True))
    assert len(pending) == 2

    barrier, make_preview = threading.Barrier(2, timeout=30), media.make_preview

    def preview_then_meet(*args):
        size = make_preview(*args)
        barrier.wait()  # both downloads are verified: now both record at once
        return size

    monkeypatch.setattr(media, "make_preview", preview_then_meet)
    outcomes = []

    def download(pk):
        try:
            outcomes.append(tasks.download_capture(pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=download, args=(pk,)) for pk in pending]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["done", "duplicate"]
    original = Capture.objects.get(duplicate_of__isnull=True)
    copy = Capture.objects.get(duplicate_of=original)
    assert original.state == copy.state == Capture.State.DONE
    assert copy.file == original.file and storage.local_file(original.file).exists()
    assert storage.local_file(original.thumbnail).exists()
    assert not list(storage.local_file(media.capture_dir(copy)).glob("000.*"))
    assert Exam.objects.get().status == Exam.Status.READY
