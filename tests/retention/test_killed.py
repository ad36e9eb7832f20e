"""A purge whose process is killed mid-way resumes, and counts nothing twice."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from portal import storage
from portal.exams.models import AuditEvent, Capture
from portal.retention import purge
from portal.retention.models import MediaPurge
from portal.work import sweeper
from tests.clarius.test_worker_killed import database_url
from tests.retention import build
from tests.subprocesses import ROOT

CAPTURES = 12


@pytest.mark.django_db(transaction=True)
def test_a_purge_killed_midway_is_resumed_by_the_sweeper(local_storage, southside, settings):
    southside.media_retention_days = 7
    southside.save()
    built = build.exams(southside, 1, signed_days_ago=8, captures=CAPTURES)
    names = [c.file for c in built.captures]
    exam = built.exams[0]

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "PORTAL_MEDIA_ROOT": str(settings.PORTAL_MEDIA_ROOT),
        "PYTHONPATH": str(ROOT),
        # A pause after each file, so that the kill lands in the middle of the purge.
        "PORTAL_PURGE_PAUSE_SECONDS": "0.3",
    }
    child = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "purge_media"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    purged = Capture.objects.filter(exam=exam, media_purged_at__isnull=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and purged.count() < 3 and child.poll() is None:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done_before = purged.count()
    assert 3 <= done_before < CAPTURES, child.stderr.read().decode()[-2000:]

    row = MediaPurge.objects.get(exam=exam)
    assert row.state == MediaPurge.State.PENDING and row.claimed_until > timezone.now()
    assert row.captures_purged == done_before  # counted with the marks, nothing more
    assert not AuditEvent.objects.filter(action=purge.PURGE_ACTION).exists()
    # The dead worker's claim holds until it runs out: nobody else purges meanwhile.
    assert purge.purge_exam(row.pk) == "not due"

    # The lease runs out; the watch lets the claim go and queues the row's task, which
    # (tasks run in-process here) finishes the purge.
    MediaPurge.objects.filter(pk=row.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert sweeper.release_expired()["MediaPurge"] == 1
    row.refresh_from_db()
    assert row.state == MediaPurge.State.DONE and row.attempts == 2
    assert row.captures_purged == CAPTURES and row.files_deleted == CAPTURES
    assert row.bytes_deleted == CAPTURES * len(build.MEDIA)
    assert purged.count() == CAPTURES
    assert not any(storage.exists(name) for name in names)
    assert all(storage.exists(c.thumbnail) for c in built.captures)
    event = AuditEvent.objects.get(action=purge.PURGE_ACTION)
    assert event.detail["captures"] == CAPTURES and event.detail["files"] == CAPTURES
    assert event.detail["bytes"] == CAPTURES * len(build.MEDIA)
