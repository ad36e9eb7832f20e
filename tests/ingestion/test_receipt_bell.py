"""With Redis the webhook rings the receipt watches' bell instead of queuing a task.

One Redis command after the answer, nothing pickled or queued: an idle watch wakes at
once and fetches the receipt. A ring that is lost (Redis away) loses nothing: the
receipt is the queue entry and the watch's own look finds it.
"""

import threading
import time

import pytest

from integrations.clarius.ingestion import notifications, receipts
from integrations.clarius.models import NotificationReceipt
from portal.exams.models import Exam
from portal.work import wake
from tests.clarius.flow import deliver, link_confirmed
from tests.services import redis_url


@pytest.fixture
def redis_broker(settings):
    """Redis as a node runs it: tasks not run in-process; a queue of this test's own."""
    url = redis_url()
    name = f"bell-{time.monotonic_ns()}"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False, "redis": url, "name": name}
    settings.Q_CLUSTER.pop("orm", None)
    yield
    wake._redis().delete(wake.key(receipts.BELL))


@pytest.fixture
def clinician(clarius_settings, clarius_sandbox, bob, northside, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    sandbox_user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link_confirmed(sandbox_user, bob, northside)
    return sandbox_user


def test_a_ring_wakes_one_waiting_watch_and_no_ring_times_out(redis_broker):
    assert wake.wait("test-bell", 0.05) is False
    assert wake.ring("test-bell")
    started = time.monotonic()
    assert wake.wait("test-bell", 5) is True
    assert time.monotonic() - started < 1
    assert wake.wait("test-bell", 0.05) is False  # one ring wakes one watch


def test_rings_nobody_takes_do_not_pile_up(redis_broker):
    for _ in range(wake.KEPT_RINGS * 3):
        wake.ring("test-bell")
    assert wake._redis().llen(wake.key("test-bell")) == wake.KEPT_RINGS
    wake._redis().delete(wake.key("test-bell"))


def test_without_redis_there_is_no_bell_and_waiting_only_sleeps(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False, "orm": "default"}
    settings.Q_CLUSTER.pop("redis", None)
    assert not wake.available()
    assert wake.ring("test-bell") is False
    started = time.monotonic()
    assert wake.wait("test-bell", 0.05) is False
    assert time.monotonic() - started >= 0.05


def test_redis_away_loses_no_ring_that_matters(settings, caplog):
    # Nothing listens on port 1: ringing fails (logged) and waiting sleeps, never raises.
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False, "redis": "redis://127.0.0.1:1/0"}
    settings.Q_CLUSTER.pop("orm", None)
    wake._client["pid"] = None  # a client for this URL
    try:
        assert wake.ring("test-bell") is False
        assert wake.wait("test-bell", 0.05) is False
    finally:
        wake._client["pid"] = None
    assert "could not ring test-bell" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_webhook_rings_and_a_sleeping_watch_fetches_at_once(
    clarius_sandbox, clinician, redis_broker, settings, monkeypatch
):
    queued = []
    monkeypatch.setattr(notifications, "nudge", queued.append)
    settings.PORTAL_RECEIPT_POLL_MS = 2000  # alone, the watch would look only every 20 s
    stop = threading.Event()
    watch = threading.Thread(target=receipts._watch_loop, args=(stop,), daemon=True)
    watch.start()
    try:
        time.sleep(0.3)  # the watch looked, found nothing, and waits on the bell
        request = clarius_sandbox.upload_exam(clinician, captures=2, videos=0, notify=False)
        started = time.monotonic()
        response = deliver(request)
        assert response.status_code == 202
        response.close()  # the WSGI server closes it once sent: that rings the bell
        assert queued == []  # no task was queued
        while Exam.objects.filter(status="ready").count() == 0:
            assert time.monotonic() - started < 5, "the watch did not wake"
            time.sleep(0.05)
        assert time.monotonic() - started < 5
        assert NotificationReceipt.objects.get().state == "fetched"
    finally:
        stop.set()
        wake.ring(receipts.BELL)  # wake it to see the stop
        watch.join(10)
    assert not watch.is_alive()


def test_rings_made_in_a_burst_all_arrive_in_few_commands(redis_broker, monkeypatch):
    sent = []
    send = wake._send
    monkeypatch.setattr(wake, "_send", lambda rings: sent.append(dict(rings)) or send(rings))
    for _ in range(10):
        wake.ring_soon("test-bell")
    deadline = time.monotonic() + 5
    while wake._redis().llen(wake.key("test-bell")) < 10:
        assert time.monotonic() < deadline, f"rings sent: {sent}"
        time.sleep(0.01)
    assert sum(r["test-bell"] for r in sent) == 10
    assert len(sent) <= 3  # the first at once, the rest together
    wake._redis().delete(wake.key("test-bell"))


@pytest.mark.django_db(transaction=True)
def test_a_watch_that_finds_several_due_rings_for_the_others(
    clarius_sandbox, clinician, redis_broker, monkeypatch
):
    for _ in range(3):
        request = clarius_sandbox.upload_exam(clinician, captures=1, videos=0, notify=False)
        assert deliver(request).status_code == 202
    time.sleep(4 * wake.RING_EVERY_SECONDS)  # the webhook's own rings are sent...
    wake._redis().delete(wake.key(receipts.BELL))  # ...and dropped
    monkeypatch.setattr("integrations.clarius.tasks.fetch_receipt", lambda pk: "fetched")
    assert receipts.fetch_next() == "fetched"
    assert wake._redis().llen(wake.key(receipts.BELL)) == 2  # one each for the other two


def test_a_long_wait_is_cut_below_the_socket_timeout(redis_broker, caplog):
    # A poll set high (PORTAL_RECEIPT_POLL_MS) must not outlast a Redis read and fail.
    started = time.monotonic()
    assert wake.wait("test-bell", wake.SOCKET_TIMEOUT + 30) is False
    assert time.monotonic() - started < wake.SOCKET_TIMEOUT
    assert "could not wait" not in caplog.text
