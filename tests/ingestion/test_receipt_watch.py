"""The receipt is the queue entry: the webhook writes it and answers; workers claim it.

With the ORM broker nothing is queued by the webhook (no task row: no second commit);
each worker's receipt watch finds due receipts itself. A receipt accepted while no
worker runs is fetched once one does, and two watches never fetch the same receipt.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from django.db import connection
from django.urls import reverse
from django_q.models import OrmQ, Schedule

from integrations.clarius.account.registration import active_endpoint
from integrations.clarius.ingestion import receipts
from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.exams.models import Exam
from tests.clarius.flow import deliver, link_confirmed
from tests.subprocesses import ROOT

TOKEN = "eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY"


@pytest.fixture
def orm_broker(settings):
    """The embedded default as a node runs it: the ORM broker, tasks not run in-process."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False, "orm": "default"}
    settings.Q_CLUSTER.pop("redis", None)


@pytest.fixture
def clinician(clarius_settings, clarius_sandbox, bob, northside, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    sandbox_user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link = link_confirmed(sandbox_user, bob, northside)
    return sandbox_user, link


def notification():
    request_uuid = str(uuid.uuid4())
    api = "https://cloud.clarius.com/api/public/v0/"
    return {
        "request_uuid": request_uuid,
        "exam_uuid": str(uuid.uuid4()),
        "customer_id": TOKEN,
        "download_url": f"{api}exams/download-requests/{request_uuid}/data/",
        "submitted_at": "2026-11-27T03:10:47.231755Z",
    }


@pytest.mark.django_db(transaction=True)
def test_the_webhook_writes_one_row_in_one_statement_and_queues_nothing(
    client, bob, northside, orm_broker, django_assert_num_queries
):
    ClariusLink.objects.create(
        token=TOKEN, user=bob, institution=northside, state=ClariusLink.State.CONFIRMED
    )
    url = reverse("clarius-notifications", args=[active_endpoint().secret])

    def post():
        return client.post(url, json.dumps(notification()), content_type="application/json")

    assert post().status_code == 202  # the active secret is now remembered
    # One INSERT (the link looked up in it), committed by itself: no transaction,
    # savepoint, task row or broker call.
    with django_assert_num_queries(1):
        assert post().status_code == 202
    assert OrmQ.objects.count() == 0
    assert NotificationReceipt.objects.filter(state="pending").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_notification_accepted_while_no_worker_runs_is_fetched_later(
    clarius_sandbox, clinician, orm_broker
):
    request = clarius_sandbox.upload_exam(clinician[0], captures=2, videos=0, notify=False)
    assert deliver(request).status_code == 202
    receipt = NotificationReceipt.objects.get()
    assert receipt.state == "pending"
    assert OrmQ.objects.count() == 0  # nothing queued: the receipt is the queue entry
    assert not Exam.objects.exists()

    # A worker starts: its watch finds the receipt and fetches it.
    assert receipts.due_receipts() == [receipt.pk]
    assert receipts.fetch_next() == "fetched"
    receipt.refresh_from_db()
    assert (receipt.state, receipt.attempts) == ("fetched", 1)
    assert Exam.objects.get().status == "ready"
    assert receipts.fetch_next() is None  # nothing more is due


@pytest.mark.django_db(transaction=True)
def test_two_watches_never_fetch_the_same_receipt(clarius_sandbox, clinician, orm_broker):
    requests = [
        clarius_sandbox.upload_exam(clinician[0], captures=1, videos=0, notify=False)
        for _ in range(4)
    ]
    for request in requests:
        assert deliver(request).status_code == 202
    both_looked = threading.Barrier(2)
    real_due = receipts.due_receipts
    outcomes, errors = [], []

    def due_once_both_looked(limit=receipts.LOOKAHEAD):
        # Both watches see the same due receipts before either claims one.
        found = real_due(limit)
        with contextlib.suppress(threading.BrokenBarrierError):  # the other one is done
            both_looked.wait(timeout=2)
        return found

    def watch():
        try:
            while (outcome := receipts.fetch_next()) is not None:
                outcomes.append(outcome)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)
        finally:
            connection.close()

    receipts.due_receipts = due_once_both_looked
    try:
        threads = [threading.Thread(target=watch) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        receipts.due_receipts = real_due
    assert not errors
    assert outcomes == ["fetched"] * 4
    rows = NotificationReceipt.objects.values_list("state", "attempts")
    assert sorted(rows) == [("fetched", 1)] * 4  # each claimed once, by one watch
    assert Exam.objects.count() == 4


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_worker_started_later_fetches_what_was_accepted_meanwhile(
    clarius_sandbox, clinician, orm_broker, tmp_path
):
    """A real ``qcluster`` node on the ORM broker: its watch, not a queued task, fetches."""
    Schedule.objects.all().delete()  # only the receipt's work runs on the node
    request = clarius_sandbox.upload_exam(clinician[0], captures=1, videos=0, notify=False)
    assert deliver(request).status_code == 202
    assert OrmQ.objects.count() == 0
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "PORTAL_", "CLARIUS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.ingestion.cluster_settings",
        DATABASE_URL=database_url(),
        PYTHONPATH=str(ROOT),
        PORTAL_MEDIA_ROOT=str(tmp_path / "media"),
        PORTAL_TEST_Q_NAME=f"receipts-{uuid.uuid4().hex[:8]}",
        CLARIUS_API_URL=clarius_sandbox.api_url,
        CLARIUS_API_KEY=clarius_sandbox.api_key,
        CLARIUS_MEDIA_ORIGINS=clarius_sandbox.media_origin,
    )
    log = tmp_path / "node.log"
    with open(log, "w") as out:
        node = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if NotificationReceipt.objects.filter(state="fetched").exists():
                    break
                assert node.poll() is None, log.read_text()[-3000:]
                time.sleep(0.1)
            assert NotificationReceipt.objects.get().state == "fetched", log.read_text()[-3000:]
            assert OrmQ.objects.count() == 0
        finally:
            try:
                os.killpg(node.pid, signal.SIGTERM)
                node.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(node.pid, signal.SIGKILL)
                node.wait(10)
