"""A worker killed in the middle of a download leaves no partial file, and work resumes."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone

from integrations.clarius import tasks
from integrations.clarius.models import NotificationReceipt
from portal import storage
from portal.exams import media
from portal.exams.models import Capture
from portal.work import sweeper
from tests.clarius.flow import deliver, link_confirmed
from tests.subprocesses import ROOT

CHILD = """
import sys, django
django.setup()
from integrations.clarius.tasks import download_capture

download_capture(int(sys.argv[1]))
"""


def database_url():
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_download_killed_midway_leaves_no_partial_file_and_completes_later(
    clarius_settings, clarius_sandbox, bob, northside, settings, tmp_path, monkeypatch
):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    # This test plays the worker itself: nothing runs from the queue behind its back.
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    # ...nor does the exam's fetch download its captures: the child process does.
    monkeypatch.setattr(tasks.media_fetch, "download_captures", lambda *args: None)
    sandbox_user = clarius_sandbox.add_user("Bob")
    link_confirmed(sandbox_user, bob, northside)
    request = clarius_sandbox.upload_exam(
        sandbox_user, captures=0, videos=1, notify=False, capture_size=300 * 1024 * 1024
    )
    deliver(request)
    tasks.fetch_receipt(NotificationReceipt.objects.get().pk)
    big = Capture.objects.order_by("-position").first()
    directory = storage.local_root() / media.capture_dir(big)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "CLARIUS_API_URL": clarius_sandbox.api_url,
        "CLARIUS_API_KEY": clarius_sandbox.api_key,
        "CLARIUS_MEDIA_ORIGINS": clarius_sandbox.media_origin,
        "PORTAL_MEDIA_ROOT": str(settings.PORTAL_MEDIA_ROOT),
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(big.pk)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    partial = []
    while time.monotonic() < deadline and not partial:
        partial = list(directory.glob(".*.part")) if directory.exists() else []
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert partial, "the download never started"
    assert any(p.exists() for p in partial)  # what a crash leaves behind...

    big.refresh_from_db()
    assert big.state == "pending" and big.claimed_until > timezone.now()
    assert tasks.download_capture(big.pk) == "not due"  # the dead worker's lease holds

    # The lease runs out; the sweeper hands the capture out again.
    Capture.objects.filter(pk=big.pk).update(claimed_until=timezone.now())
    assert sweeper.sweep()["Capture"] >= 1
    assert tasks.download_capture(big.pk) == "done"
    big.refresh_from_db()
    assert big.size == 300 * 1024 * 1024
    assert list(directory.glob(".*.part")) == []  # ...is cleaned up by the next attempt
