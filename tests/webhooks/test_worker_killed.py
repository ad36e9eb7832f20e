"""A worker killed in the middle of a delivery: the event still arrives, at least once,
and the receiver can tell the copies apart from new events by their ``webhook-id``."""

import os
import signal
import subprocess
import sys

import pytest
from django.utils import timezone

from integrations.webhooks import endpoints, tasks
from integrations.webhooks.models import Delivery
from portal import events
from portal.work import sweeper
from tests.clarius.test_worker_killed import database_url
from tests.factories import make_exam
from tests.subprocesses import ROOT

CHILD = """
import sys, django
django.setup()
from integrations.webhooks.tasks import deliver_webhook

deliver_webhook(int(sys.argv[1]))
"""


@pytest.mark.django_db(transaction=True)
def test_a_delivery_killed_midway_is_sent_again_with_the_same_id(
    receiver, northside, bob, monkeypatch
):
    # This test plays the worker itself: nothing runs from the queue behind its back.
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    endpoint, secret = endpoints.create(northside, receiver.url, events.EVENT_TYPES)
    exam = make_exam(northside, bob)
    events.emit(events.EXAM_READY, exam)
    events.emit(events.EXAM_SIGNED, exam)
    first, second = Delivery.objects.order_by("pk")

    receiver.answers = ["hang"]  # the first request gets no answer while the child waits
    receiver.hang_seconds = 30
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(first.pk)], env=env, cwd=ROOT)
    try:
        assert receiver.arrived.wait(30), "the delivery never started"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    receiver.release.set()

    first.refresh_from_db()
    assert first.state == "pending" and first.claimed_until > timezone.now()
    assert tasks.deliver_webhook(first.pk) == "not due"  # the dead worker's lease holds

    # The lease runs out; the sweeper hands the delivery out again.
    Delivery.objects.filter(pk=first.pk).update(claimed_until=timezone.now())
    assert sweeper.sweep()["Delivery"] >= 2
    assert tasks.deliver_webhook(first.pk) == "delivered"
    assert tasks.deliver_webhook(second.pk) == "delivered"

    payloads = receiver.verified(secret)
    ids = receiver.ids()
    assert len(ids) == 3 and len(set(ids)) == 2  # every event arrived, one of them twice
    seen = {}
    for webhook_id, payload in zip(ids, payloads, strict=True):
        seen.setdefault(webhook_id, payload)  # the receiver's dedupe
        assert seen[webhook_id] == payload
    assert sorted(p["type"] for p in seen.values()) == ["exam.ready", "exam.signed"]
