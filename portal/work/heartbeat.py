"""Claims kept alive while their task runs, so that a dead node's work is not held for long.

A claim is a short lease (``PORTAL_WORK_LEASE_SECONDS``). While a task runs, every claim
it takes has a *heartbeat*: a daemon thread that extends the lease every third of it. A
node that dies (SIGKILL, a lost machine) stops renewing, its claims run out within one
lease, and the sweeper's watch hands the rows out again (``sweeper.release_expired``).

A claim is known by the moment it was taken (``last_attempt_at``, set by the claim and
by nothing else). The renewal is one conditional UPDATE of one row: it extends the
lease only while that moment is still the row's and the claim has not been let go
(``claimed_until`` not cleared by ``finish``, ``fail``, the watch or "retry now"). So a
worker that stalled past its lease and was overtaken can neither renew nor, through
``Work.save``, write its outcome over the new owner's claim (``ClaimLost``).

When the task ends, its heartbeats end too: ``finish``/``fail`` stop the row's heartbeat
(the outcome is saved next), and whatever is left is stopped and joined when the task
returns or raises. The task's span is django-q2's ``pre_execute`` to
``post_execute_in_worker`` (in a cluster and in sync mode alike), or ``running()``
around code that runs a task itself (a watch thread). A thread a task starts (concurrent
downloads) has no task of its own: its claims are renewed while a task runs in the
process and for as long as that thread lives. A claim taken outside any task keeps its
lease with no heartbeat: such code must finish within the lease.

Each heartbeat thread opens its own database connection only when it renews (a task
that ends sooner never opens one) and closes it when it stops.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone

logger = logging.getLogger(__name__)

# How long stopping a task's heartbeats waits for one in the middle of a renewal.
JOIN_SECONDS = 5.0
# How often a heartbeat looks whether the thread that claimed its row is still alive.
OWNER_CHECK_SECONDS = 1.0


class ClaimLost(Exception):
    """A write by a worker whose claim ran out and was taken by another worker."""


def lease() -> timedelta:
    """The length of a claim: ``PORTAL_WORK_LEASE_SECONDS`` (renewed while the task runs)."""
    return timedelta(seconds=settings.PORTAL_WORK_LEASE_SECONDS)


class Heartbeat:
    """Renews one claim every third of the lease until stopped or the claim is gone."""

    def __init__(self, model, pk, token: datetime, length: timedelta):
        self.model = model
        self.pk = pk
        self.token = token
        self.length = length
        self.lost = False
        self.renewals = 0
        self.owner = threading.current_thread()  # the thread that claimed the row
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"work-heartbeat-{model._meta.label}-{pk}", daemon=True
        )

    @property
    def key(self) -> tuple[str, object]:
        return (self.model._meta.label, self.pk)

    @property
    def interval(self) -> float:
        return self.length.total_seconds() / 3

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float | None = None) -> None:
        self._stop.set()
        if wait is not None and self._thread.ident is not None:
            self._thread.join(wait)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def renew(self) -> bool:
        """Extend the lease if this claim still holds the row; ``False`` once it does not."""
        taken = self.model._default_manager.filter(
            pk=self.pk, last_attempt_at=self.token, claimed_until__isnull=False
        ).update(claimed_until=timezone.now() + self.length)
        if taken:
            self.renewals += 1
        return bool(taken)

    def _run(self) -> None:
        try:
            next_beat = time.monotonic() + self.interval
            while not self._stop.wait(min(OWNER_CHECK_SECONDS, self.interval)):
                if not self.owner.is_alive():  # the claiming thread ended without an outcome
                    return
                if time.monotonic() < next_beat:
                    continue
                next_beat = time.monotonic() + self.interval
                try:
                    held = self.renew()
                except Exception:  # noqa: BLE001 - a database hiccup: try again next beat
                    logger.warning(
                        "could not renew the claim on %s %s; trying again in %.0f s",
                        *self.key,
                        self.interval,
                        exc_info=True,
                    )
                    connections.close_all()  # this thread's own; a fresh one next time
                    continue
                if not held:
                    if not self._stop.is_set():
                        self.lost = True
                        logger.info("the claim on %s %s was let go or taken over", *self.key)
                    return
        finally:
            connections.close_all()  # only this thread's connections


class Task:
    """The span of one running task: the heartbeats its claims started."""

    def __init__(self):
        self.heartbeats: list[Heartbeat] = []


_lock = threading.Lock()
_local = threading.local()
_open: list[Task] = []  # every task running in this process, latest last
_held: dict[tuple[str, object], Heartbeat] = {}  # the live heartbeat of each claimed row
_threads: list[Heartbeat] = []  # heartbeats of claims taken by a task's own threads


def _stack() -> list[Task]:
    if not hasattr(_local, "tasks"):
        _local.tasks = []
    return _local.tasks


def begin() -> Task:
    task = Task()
    _stack().append(task)
    with _lock:
        _open.append(task)
    return task


def end(task: Task | None = None) -> None:
    """Stop (and join) every heartbeat of ``task`` (default: this thread's latest)."""
    stack = _stack()
    if task is None:
        if not stack:
            return
        task = stack[-1]
    if task in stack:
        stack.remove(task)
    with _lock:
        if task in _open:
            _open.remove(task)
        beats, task.heartbeats = task.heartbeats, []
        # The task's own threads have been joined (or are abandoned) by now.
        ended = [beat for beat in _threads if not beat.owner.is_alive() or not _open]
        _threads[:] = [beat for beat in _threads if beat not in ended]
        beats += ended
        for beat in beats:
            if _held.get(beat.key) is beat:
                del _held[beat.key]
    for beat in beats:
        beat.stop()
    for beat in beats:
        beat.stop(wait=JOIN_SECONDS)


@contextmanager
def running():
    """Run a task's code here as a worker does: its claims renewed until the block ends."""
    task = begin()
    try:
        yield task
    finally:
        end(task)


def current() -> Task | None:
    """This thread's running task, if any."""
    stack = _stack()
    return stack[-1] if stack else None


def hold(model, pk, token: datetime, length: timedelta) -> Heartbeat | None:
    """Keep a fresh claim alive while the task that took it runs (none: no heartbeat).

    From a thread of its own task, for as long as that task; from another thread (one a
    task started), for as long as that thread lives and some task runs in the process.
    """
    task = current()
    beat = Heartbeat(model, pk, token, length)
    with _lock:
        if task is not None:
            task.heartbeats.append(beat)
        elif _open:
            _threads.append(beat)
        else:
            return None
        previous = _held.get(beat.key)
        _held[beat.key] = beat
    if previous is not None:  # the task claimed the row again (a new step): one heartbeat
        previous.stop()
    beat.start()
    return beat


def let_go(obj) -> None:
    """The task is recording the row's outcome: its heartbeat stops (not waited for: a
    renewal racing the outcome's save cannot undo it, as it needs a live claim)."""
    meta = getattr(obj, "_meta", None)
    if meta is None:  # not a row (the policy applied to a plain object)
        return
    with _lock:
        beat = _held.pop((meta.label, obj.pk), None)
    if beat is not None:
        obj.__dict__.setdefault("_work_claim", beat.token)
        beat.stop()


def token_of(obj) -> datetime | None:
    """The claim a write of ``obj`` must still hold: the claim that loaded ``obj``, or
    the live claim of this process on its row."""
    token = obj.__dict__.get("_work_claim")
    if token is not None:
        return token
    with _lock:
        beat = _held.get((obj._meta.label, obj.pk))
    return beat.token if beat is not None else None


def heartbeats() -> list[Heartbeat]:
    """The live heartbeats of this process (for tests and diagnostics)."""
    with _lock:
        return list(_held.values())


def task_started(sender=None, **kwargs) -> None:
    begin()


def task_ended(sender=None, **kwargs) -> None:
    end()
