"""The receipt watch: workers take due notification receipts straight from their table.

A notification's receipt is its own queue entry (``notifications``): the webhook writes
it in one INSERT and answers, with no task row and no broker call before the answer.
Every worker process runs a watch (a thread started on django-q2's ``post_spawn``) that
looks for due *pending* receipts and runs ``fetch_receipt`` on the oldest, one at a
time, looking again at once after each. So a receipt accepted while no worker ran is
fetched as soon as one starts. On the ORM broker a watch looks every
``PORTAL_RECEIPT_POLL_MS``, so a receipt waits at most one poll, not a trip through the
task table. With Redis the webhook rings a bell once its answer is sent
(``portal.work.wake``): one idle watch wakes at once, and watches look by themselves
only every ten polls.

Two watches (or a watch and a queued task, or the sweeper's) never fetch the same
receipt: ``fetch_receipt`` claims it with the one conditional UPDATE of
``portal.work``, and whoever loses finds it "not due" and moves on to the next. A
watch runs each fetch as a worker runs a task (``heartbeat.running``), so its claim is
renewed while the fetch lasts.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading

from django.conf import settings
from django.db import connections

from integrations.clarius.ingestion.notifications import BELL
from integrations.clarius.models import NotificationReceipt
from portal import work
from portal.work import wake

logger = logging.getLogger(__name__)

# How many due receipts one look-up reads: tried in order until one is claimed.
LOOKAHEAD = 8
# With the bell, a watch still looks this many polls apart (a lost ring, a receipt the
# catch-up or the sweeper made due): the bell wakes it at once for everything else.
POLLS_PER_LOOK_WITH_BELL = 10


def poll_seconds() -> float:
    return settings.PORTAL_RECEIPT_POLL_MS / 1000


def idle(stop: threading.Event) -> None:
    """Wait for the next look: until the bell rings (Redis), else one poll."""
    if wake.available():
        wake.wait(BELL, poll_seconds() * POLLS_PER_LOOK_WITH_BELL)
    else:
        stop.wait(poll_seconds())


def due_receipts(limit: int = LOOKAHEAD) -> list[int]:
    """The due pending receipts not held by a live claim, oldest first (by the index
    on state and due time)."""
    pending = NotificationReceipt.objects.filter(state=NotificationReceipt.State.PENDING)
    return list(work.due(pending).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def fetch_next() -> str | None:
    """Fetch the oldest due receipt this worker can claim: its outcome, or ``None`` when
    none is due (or every one was claimed by another worker meanwhile)."""
    from integrations.clarius.tasks import fetch_receipt
    from portal.work import heartbeat

    due = due_receipts()
    if len(due) > 1:
        # More are waiting than this watch can take: wake idle ones for the rest.
        wake.ring(BELL, times=len(due) - 1)
    for pk in due:
        with heartbeat.running():
            outcome = fetch_receipt(pk)
        if outcome != "not due":
            return outcome
    return None


def _tidy_connections() -> None:
    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


def _watch_loop(stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            busy = fetch_next() is not None
        except Exception:  # noqa: BLE001 - the database may be away; the next round retries
            logger.warning("could not look for notifications to fetch", exc_info=True)
            connections.close_all()
            busy = False
        else:
            # The thread keeps its connection between rounds (ten a second), unless broken.
            _tidy_connections()
        if not busy and not stop.is_set():
            idle(stop)


_watch = {"pid": None, "thread": None, "stop": None}
_watch_lock = threading.Lock()


def start_watch(sender=None, **kwargs) -> threading.Thread | None:
    """Start this worker process's receipt watch (django-q2's ``post_spawn``), once.

    Not in sync mode, where django-q2 runs each task in the caller's process (a web
    process or a test) and sends ``post_spawn`` every time.
    """
    if settings.Q_CLUSTER.get("sync") or multiprocessing.parent_process() is None:
        return None
    with _watch_lock:
        if _watch["pid"] == os.getpid() and _watch["thread"].is_alive():
            return _watch["thread"]
        stop = threading.Event()
        thread = threading.Thread(
            target=_watch_loop, args=(stop,), name="clarius-receipt-watch", daemon=True
        )
        thread.start()
        _watch.update(pid=os.getpid(), thread=thread, stop=stop)
        return thread


def stop_watch() -> None:
    with _watch_lock:
        if _watch["stop"] is not None:
            _watch["stop"].set()
