"""A capture download that fails in an unexpected way gives up visibly, never re-runs forever.

Media that cannot be decoded for a preview is still kept: the capture is usable and says
why it has no preview.
"""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from integrations.clarius import tasks
from integrations.clarius.models import NotificationReceipt
from portal import storage, work
from portal.exams import media
from portal.exams.models import Capture, Exam
from portal.work import sweeper
from tests.clarius.flow import deliver, link_confirmed


@pytest.fixture
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


@pytest.fixture
def one_capture(clarius_settings, clarius_sandbox, bob, northside, media_root, monkeypatch):
    """An exam with one capture waiting for download, the worker played by the test."""
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    sandbox_user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link_confirmed(sandbox_user, bob, northside)

    def upload(**kinds):
        request = clarius_sandbox.upload_exam(sandbox_user, notify=False, **kinds)
        deliver(request)
        tasks.fetch_receipt(NotificationReceipt.objects.get().pk)
        return Capture.objects.get()

    return upload


class Garbage:
    """Stands in for the sandbox's JPEG maker: a JPEG signature, then bytes no decoder reads."""

    def get(self, seed):
        return b"\xff\xd8\xff\xe0" + b"\x00\x01not a picture\x00" * 64


def files_of(capture):
    directory = storage.local_root() / media.capture_dir(capture)
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_it_keeps_an_image_that_cannot_be_decoded_and_says_it_has_no_preview(
    one_capture, monkeypatch
):
    monkeypatch.setattr("clarius_sandbox.media.jpeg_cache", Garbage())
    capture = one_capture(captures=1, videos=0)
    assert tasks.download_capture(capture.pk) == "done"
    capture.refresh_from_db()
    assert capture.state == "done" and capture.file and not capture.thumbnail
    assert capture.width is None and capture.next_attempt_at is None
    assert "no preview could be made" in capture.last_error
    assert "\x00" not in capture.last_error
    assert storage.local_file(capture.file).stat().st_size == capture.size
    assert files_of(capture) == ["000.jpg"]  # no staging, partial or temporary file
    assert Exam.objects.get().status == "ready"
    assert sweeper.sweep()["Capture"] == 0


def test_it_keeps_a_clip_whose_poster_frame_fails(one_capture, monkeypatch):
    def explode(source, content_type):
        raise MemoryError("the decoder ran out of memory")

    monkeypatch.setattr(media, "_first_frame", explode)
    capture = one_capture(captures=0, videos=1)
    assert tasks.download_capture(capture.pk) == "done"
    capture.refresh_from_db()
    assert (capture.state, capture.content_type, capture.thumbnail) == ("done", "video/mp4", "")
    assert "MemoryError" in capture.last_error
    assert files_of(capture) == ["000.mp4"]
    assert Exam.objects.get().status == "ready"


def test_an_unexpected_error_is_recorded_retried_and_then_fails_visibly(
    one_capture, monkeypatch, client
):
    def disk_full(capture, content_type):
        raise OSError(28, "No space left on device\x00\u202e")

    monkeypatch.setattr(media, "capture_relpath", disk_full)
    capture = one_capture(captures=1, videos=0)
    outcomes = []
    for _ in range(work.MAX_ATTEMPTS):
        Capture.objects.filter(pk=capture.pk).update(next_attempt_at=timezone.now())
        outcomes.append(tasks.download_capture(capture.pk))
        capture.refresh_from_db()
        assert files_of(capture) == []  # the downloaded bytes are not left behind
        if capture.state == "pending":
            # Backed off by the one policy, not re-run at once.
            assert capture.next_attempt_at > timezone.now() and capture.claimed_until is None
    assert outcomes == ["retry"] * (work.MAX_ATTEMPTS - 1) + ["failed"]
    assert capture.state == "failed" and capture.attempts == work.MAX_ATTEMPTS
    assert capture.next_attempt_at is None
    assert capture.last_error.startswith("could not store the capture: OSError")
    assert "No space left on device" in capture.last_error
    assert "\x00" not in capture.last_error and "\u202e" not in capture.last_error
    assert Exam.objects.get().status == "incomplete"
    assert sweeper.sweep()["Capture"] == 0
    assert tasks.download_capture(capture.pk) == "not due"

    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    page = client.get(reverse("admin:exams_capture_changelist")).content.decode()
    assert "could not store the capture: OSError" in page


def test_a_capture_whose_worker_dies_on_every_attempt_gives_up(one_capture):
    capture = one_capture(captures=1, videos=0)
    for _ in range(work.MAX_ATTEMPTS):
        # A worker claims the capture and dies before recording anything; its lease runs out.
        assert work.claim(Capture, capture.pk, state=Capture.State.PENDING) is not None
        Capture.objects.filter(pk=capture.pk).update(claimed_until=timezone.now())
    directory = storage.local_root() / media.capture_dir(capture)
    directory.mkdir(parents=True)
    (directory / ".000.download.abc.part").write_bytes(b"half")

    assert tasks.download_capture(capture.pk) == "failed"
    capture.refresh_from_db()
    assert capture.state == "failed" and capture.next_attempt_at is None
    assert "ended without an outcome" in capture.last_error
    assert files_of(capture) == []
    assert Exam.objects.get().status == "incomplete"
    assert sweeper.sweep()["Capture"] == 0
