"""Captures from Clarius stream straight into an S3 bucket (a real S3-compatible server):
nothing is written to local media, nothing half-written is ever visible, and a worker
killed half-way through an upload leaves no object; the retry completes."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
from django.utils import timezone

from integrations.clarius import tasks
from integrations.clarius.models import NotificationReceipt
from portal import storage as store
from portal.exams import media
from portal.exams.models import Capture, Exam
from portal.work import sweeper
from tests.clarius.flow import deliver, link_confirmed, run_due_work
from tests.clarius.test_worker_killed import database_url
from tests.subprocesses import ROOT

MIB = 1024 * 1024


@pytest.fixture
def clinician(clarius_settings, clarius_sandbox, bob, northside, s3_storage, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    sandbox_user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link_confirmed(sandbox_user, bob, northside)
    return sandbox_user


def objects(s3):
    client, bucket = s3
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}


def open_uploads(s3):
    client, bucket = s3
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_an_exam_lands_in_the_bucket_with_its_previews(
    clarius_sandbox, clinician, s3_storage, settings, tmp_path
):
    request = clarius_sandbox.upload_exam(
        clinician, captures=2, videos=1, notify=False, capture_size=None
    )
    assert deliver(request).status_code == 202
    run_due_work()

    exam = Exam.objects.get()
    assert exam.status == "ready"
    stored = objects(s3_storage)
    captures = list(exam.captures.order_by("position"))
    assert len(captures) == 3
    for capture in captures:
        assert stored[capture.file] == capture.size
        assert hashlib.sha256(store.read_bytes(capture.file)).hexdigest() == capture.sha256
        assert capture.thumbnail in stored and store.read_bytes(capture.thumbnail)[:3] == (
            b"\xff\xd8\xff"
        )
        assert capture.width and capture.height
        assert capture.frame_rate == (15 if capture.content_type == "video/mp4" else None)
    assert open_uploads(s3_storage) == []
    # Nothing went to local media, and the scratch copies for the previews are gone.
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").rglob("*"))
    assert not any((tmp_path / "scratch").glob("*"))


def test_a_large_clip_is_uploaded_in_parts_and_verified(
    clarius_sandbox, clinician, s3_storage, monkeypatch
):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    monkeypatch.setattr(tasks.media_fetch, "download_captures", lambda *args: None)
    request = clarius_sandbox.upload_exam(
        clinician, captures=0, videos=1, notify=False, capture_size=19 * MIB
    )
    deliver(request)
    tasks.fetch_receipt(NotificationReceipt.objects.get().pk)
    capture = Capture.objects.order_by("-position").first()  # the clip
    assert tasks.download_capture(capture.pk) == "done"
    capture.refresh_from_db()
    assert capture.size == 19 * MIB
    assert objects(s3_storage)[capture.file] == 19 * MIB
    assert hashlib.sha256(store.read_bytes(capture.file)).hexdigest() == capture.sha256


def test_media_over_the_cap_leaves_nothing_in_the_bucket(
    clarius_sandbox, clinician, s3_storage, monkeypatch
):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    monkeypatch.setattr(tasks.media_fetch, "download_captures", lambda *args: None)
    monkeypatch.setattr(media, "MAX_CAPTURE_BYTES", 10 * MIB)
    request = clarius_sandbox.upload_exam(
        clinician, captures=0, videos=1, notify=False, capture_size=12 * MIB
    )
    deliver(request)
    tasks.fetch_receipt(NotificationReceipt.objects.get().pk)
    capture = Capture.objects.order_by("-position").first()  # the clip
    assert tasks.download_capture(capture.pk) == "failed"
    capture.refresh_from_db()
    assert capture.state == "failed" and not capture.file
    assert capture.file not in objects(s3_storage)
    assert not any(
        key.startswith(media.capture_dir(capture) + "/001") for key in objects(s3_storage)
    )
    assert open_uploads(s3_storage) == []


CHILD = """
import sys, django
django.setup()
from integrations.clarius.tasks import download_capture

download_capture(int(sys.argv[1]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_upload_leaves_no_object_and_the_retry_completes(
    clarius_settings, clarius_sandbox, bob, northside, s3_server, s3_storage, s3_bucket,
    settings, tmp_path, monkeypatch,
):  # fmt: skip
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    # This test plays the worker itself: nothing runs from the queue behind its back.
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    monkeypatch.setattr(tasks.media_fetch, "download_captures", lambda *args: None)
    sandbox_user = clarius_sandbox.add_user("Bob")
    link_confirmed(sandbox_user, bob, northside)
    request = clarius_sandbox.upload_exam(
        sandbox_user, captures=0, videos=1, notify=False, capture_size=48 * MIB
    )
    deliver(request)
    tasks.fetch_receipt(NotificationReceipt.objects.get().pk)
    big = Capture.objects.order_by("-position").first()
    name = media.capture_relpath(big, "video/mp4")

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "CLARIUS_API_URL": clarius_sandbox.api_url,
        "CLARIUS_API_KEY": clarius_sandbox.api_key,
        "CLARIUS_MEDIA_ORIGINS": clarius_sandbox.media_origin,
        "PORTAL_MEDIA_ROOT": str(settings.PORTAL_MEDIA_ROOT),
        "PORTAL_SCRATCH_DIR": str(tmp_path / "child-scratch"),
        "PORTAL_STORAGE_URL": s3_server.storage_url(s3_bucket),
        "PORTAL_STORAGE_ACCESS_KEY_ID": s3_server.access_key,
        "PORTAL_STORAGE_SECRET_ACCESS_KEY": s3_server.secret_key,
        "PYTHONPATH": str(ROOT),
    }
    client, bucket = s3_storage
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(big.pk)], env=env, cwd=ROOT)
    try:
        # Kill the worker once part of the object is uploaded, before it can complete.
        deadline = time.monotonic() + 60
        started = []
        while time.monotonic() < deadline and not started:
            for upload in open_uploads(s3_storage):
                parts = client.list_parts(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                if parts.get("Parts"):
                    started.append(upload)
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert started, "the upload never started"
    assert started[0]["Key"] == name
    assert name not in objects(s3_storage)  # no object at the name: only a staged upload
    assert not store.exists(name)

    # The lease runs out; the sweeper hands the capture out again, and it completes.
    Capture.objects.filter(pk=big.pk).update(claimed_until=timezone.now())
    assert sweeper.sweep()["Capture"] >= 1
    assert tasks.download_capture(big.pk) == "done"
    big.refresh_from_db()
    assert big.size == 48 * MIB and big.file == name
    assert objects(s3_storage)[name] == 48 * MIB
    assert hashlib.sha256(store.read_bytes(name)).hexdigest() == big.sha256
    # The dead worker's staged upload was aborted by the retry.
    assert open_uploads(s3_storage) == []
