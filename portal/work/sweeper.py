"""The sweeper: re-queue due rows every minute, and claims that ran out every few seconds.

Queued tasks are nudges and may be lost (a broker restart, a failed enqueue, a worker
killed holding a claim); the rows are not.

- ``sweep`` (a schedule, every minute): whatever is due and not under a live claim is
  handed out again, oldest first, in bounded batches.
- ``release_expired`` (the *watch*: a thread in every worker process, every
  ``PORTAL_WORK_SWEEP_SECONDS``): a claim is a short lease renewed while its task runs
  (``heartbeat``), so a claim that ran out on a due row means its worker died. Each
  such claim is let go with a conditional UPDATE (so of all the watching workers only
  one re-queues it) and the row's task is queued at once. A dead node's work is thus
  picked up within a lease and a watch period (40 + 10 s by default), not at the next
  minute's sweep, and django-q2's schedules cannot run more often than that.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading

from django.conf import settings
from django.db import connections
from django.utils import timezone

from portal.work import policy, registry
from portal.work.queueing import enqueue

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


def sweep() -> dict:
    """Enqueue every row whose work is due and not held by a live claim."""
    counts = {}
    for kind in registry.kinds():
        ids = list(
            policy.due(kind.rows())
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        for pk in ids:
            enqueue(kind.task, pk)
        counts[kind.model.__name__] = len(ids)
    return counts


def release_expired(now=None) -> dict:
    """Let go of every claim that ran out on a due row and queue its task; counts by kind."""
    now = now or timezone.now()
    counts = {}
    for kind in registry.kinds():
        expired = list(
            kind.rows()
            .filter(next_attempt_at__lte=now, claimed_until__lt=now)
            .order_by("claimed_until")
            .values_list("pk", "claimed_until")[:SWEEP_BATCH]
        )
        released = 0
        for pk, until in expired:
            # Only the watcher whose UPDATE matched queues the task; a heartbeat that
            # renewed meanwhile (a slow worker, not a dead one) keeps its claim.
            if kind.model._default_manager.filter(pk=pk, claimed_until=until).update(
                claimed_until=None
            ):
                enqueue(kind.task, pk)
                released += 1
        if released:
            logger.warning(
                "%d %s claim(s) ran out (a worker stopped mid-task); queued again",
                released,
                kind.model.__name__,
            )
        counts[kind.model.__name__] = released
    return counts


def watch_seconds() -> float:
    return float(settings.PORTAL_WORK_SWEEP_SECONDS)


_watch = {"pid": None, "thread": None}
_watch_lock = threading.Lock()


def _watch_loop(stop: threading.Event) -> None:
    while not stop.wait(watch_seconds()):
        try:
            release_expired()
        except Exception:  # noqa: BLE001 - the database may be away; the next round retries
            logger.warning("could not look for claims that ran out", exc_info=True)
        finally:
            connections.close_all()  # this thread's own: none is held between rounds


def start_watch(sender=None, **kwargs) -> threading.Thread | None:
    """Start this worker process's watch (django-q2's ``post_spawn``), once per process.

    Not in sync mode, where django-q2 runs each task through its worker loop in the
    caller's process (a web process or a test) and sends ``post_spawn`` every time.
    """
    if settings.Q_CLUSTER.get("sync") or multiprocessing.parent_process() is None:
        return None
    with _watch_lock:
        if _watch["pid"] == os.getpid() and _watch["thread"].is_alive():
            return _watch["thread"]
        thread = threading.Thread(
            target=_watch_loop, args=(threading.Event(),), name="work-watch", daemon=True
        )
        thread.start()
        _watch.update(pid=os.getpid(), thread=thread)
        return thread
