"""An exam's captures downloaded at once, by the task that fetched its data.

Queuing one task per capture costs a trip through the broker per capture (a poll of the
ORM broker each) and downloads them one worker at a time. Instead the task that stored
the exam data downloads the captures that became due itself, a few at a time:

- at most ``PORTAL_CAPTURE_DOWNLOADS_PER_EXAM`` at once for one exam, and at most
  ``PORTAL_CAPTURE_DOWNLOADS_PER_WORKER`` at once in one worker process (its number of
  download threads), whatever the number of exams it is downloading;
- clips first (by the link's extension), so the longest downloads do not start last;
- each download is the first half of the one per-capture task
  (``tasks.prepare_capture``): it claims its row first, so a capture is never
  downloaded by two threads or workers at once, and records a failure and its retry by
  the one policy itself; the captures downloaded are recorded by the task's own thread,
  those ready at the same moment together (``tasks.record_captures``);
- the downloads run on this process's download threads (``Downloaders``), which live
  from one exam to the next: each keeps its database connection (Django opens one per
  thread) by ``CONN_MAX_AGE`` and its media client, so a capture does not pay for a new
  connection (on PostgreSQL a new backend, its caches cold) and a new TLS session; an
  idle thread gives its connection back. On SQLite the writes queue on the busy
  timeout, on PostgreSQL they run side by side;
- a capture not started once the time budget has passed is queued as its own task; one
  a crashed thread or a killed worker left stays due in its row, and the sweeper hands
  it out.

Inside a transaction (a caller's, or a test's) other threads could not see the rows, so
the captures are queued as their own tasks, as before.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.db import close_old_connections, connection, connections

logger = logging.getLogger(__name__)

DEFAULT_PER_EXAM = 4
DEFAULT_PER_WORKER = 8
CLIP_EXTENSIONS = (".mp4", ".mov", ".m4v", ".avi", ".webm")

IDLE_SECONDS = 10.0  # a download thread idle this long closes its database connection


def per_exam() -> int:
    return max(1, int(getattr(settings, "PORTAL_CAPTURE_DOWNLOADS_PER_EXAM", DEFAULT_PER_EXAM)))


def per_worker() -> int:
    return max(1, int(getattr(settings, "PORTAL_CAPTURE_DOWNLOADS_PER_WORKER", DEFAULT_PER_WORKER)))


class Downloaders:
    """A process's download threads: ``size`` of them, started at the first job and kept
    until ``stop``. Jobs run in the order given, one per thread at a time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pid = os.getpid()
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self.lock:
            if not self.threads:
                self.threads = [
                    threading.Thread(target=self._serve, name=f"capture-download-{n}", daemon=True)
                    for n in range(self.size)
                ]
                for thread in self.threads:
                    thread.start()
            self.jobs.put(job)

    def stop(self, timeout: float = 30.0) -> None:
        """Let each thread finish its job and end, its connections closed."""
        with self.lock:
            threads, self.threads = self.threads, []
            for _ in threads:
                self.jobs.put(None)
        for thread in threads:
            thread.join(timeout)

    def _serve(self) -> None:
        try:
            while True:
                try:
                    job = self.jobs.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    connections.close_all()  # idle: the connection goes back to the server
                    continue
                if job is None:
                    return
                close_old_connections()  # past CONN_MAX_AGE, or broken: a fresh one
                try:
                    job()
                except Exception:  # noqa: BLE001 - a job reports its own outcome; the thread stays
                    logger.exception("a capture download job failed")
                finally:
                    close_old_connections()
        finally:
            connections.close_all()


_downloaders: dict = {"pool": None}
_downloaders_lock = threading.Lock()


def downloaders() -> Downloaders:
    """This process's download threads (a forked worker starts its own, never its
    parent's; a new ``per_worker()`` replaces them)."""
    size = per_worker()
    with _downloaders_lock:
        pool = _downloaders["pool"]
        if pool is None or pool.pid != os.getpid() or pool.size != size:
            if pool is not None and pool.pid == os.getpid():
                pool.stop(timeout=0)
            pool = _downloaders["pool"] = Downloaders(size)
        return pool


def stop_downloaders() -> None:
    """End this process's download threads, closing their database connections (a test
    session does, before its database is dropped)."""
    with _downloaders_lock:
        pool, _downloaders["pool"] = _downloaders["pool"], None
    if pool is not None and pool.pid == os.getpid():
        pool.stop()


def budget_seconds() -> float:
    """How long new downloads may be started: half the task's time limit, so those in
    flight can finish before django-q2 stops the task."""
    return settings.Q_CLUSTER.get("timeout", 300) / 2


def queue_each(capture_ids: Iterable[int]) -> None:
    from portal.exams.models import Capture
    from portal.work.registry import nudge_pk

    for capture_id in capture_ids:
        nudge_pk(Capture, capture_id)


def clips_first(capture_ids: list[int]) -> list[int]:
    """The captures whose link names a clip first, then the others, each in their order.

    The exam is ready when its last capture is: starting the longest downloads first
    keeps the short ones in the other slots meanwhile, instead of a clip queued behind
    them. Only the link's path is known before the download; without an extension there
    the order stays as it was.
    """
    from portal.exams.models import Capture

    urls = dict(Capture.objects.filter(pk__in=capture_ids).values_list("pk", "source_url"))

    def is_clip(capture_id: int) -> bool:
        path = urlsplit(urls.get(capture_id, "")).path.lower()
        return path.endswith(CLIP_EXTENSIONS)

    return sorted(capture_ids, key=lambda capture_id: not is_clip(capture_id))


class _Late:
    """A job that started past the time budget: its capture goes to the queue."""

    def __init__(self, capture_id: int) -> None:
        self.capture_id = capture_id


def download_captures(
    capture_ids: Iterable[int],
    prepare: Callable[[int], object],
    record: Callable[[list], list[str]],
) -> Counter:
    """Download these captures, at most ``per_exam()`` at once; their outcomes counted.

    ``prepare(capture_id)`` (in a download thread) claims the capture, downloads it and
    makes its preview: the capture ready to record, or its outcome (a string) when there
    is nothing to record. ``record(prepared)`` (in this thread) records the captures
    ready at that moment in one transaction and returns their outcomes: captures of one
    exam finish at about the same moment, and recorded one by one each would wait for
    the exam's lock and commit on its own while the others wait behind it.

    Returns when every capture was tried, or handed to the queue (see the module notes).
    """
    ids = list(dict.fromkeys(capture_ids))
    if not ids:
        return Counter()
    if connection.in_atomic_block:
        queue_each(ids)
        return Counter(queued=len(ids))
    ids = deque(clips_first(ids))
    outcomes: Counter = Counter()
    pool = downloaders()
    limit = min(per_exam(), pool.size)
    deadline = time.monotonic() + budget_seconds()
    results: queue.SimpleQueue = queue.SimpleQueue()
    late: list[int] = []
    in_flight = 0

    def job(capture_id: int) -> Callable[[], None]:
        def run() -> None:
            if time.monotonic() >= deadline:  # waited past the budget behind other exams
                results.put(_Late(capture_id))
                return
            try:
                results.put(prepare(capture_id))
            except Exception:  # noqa: BLE001 - the others go on; the row stays due
                logger.exception("downloading capture %s failed", capture_id)
                results.put("error")

        return run

    def top_up() -> int:
        started = 0
        while ids and in_flight + started < limit and time.monotonic() < deadline:
            pool.submit(job(ids.popleft()))
            started += 1
        return started

    in_flight += top_up()
    while in_flight:
        batch = [results.get()]
        while not results.empty():
            batch.append(results.get())
        in_flight -= len(batch)
        in_flight += top_up()  # the next downloads start while these are recorded
        late.extend(item.capture_id for item in batch if isinstance(item, _Late))
        ready = [item for item in batch if not isinstance(item, (str, _Late))]
        outcomes.update(item for item in batch if isinstance(item, str))
        if ready:
            try:
                outcomes.update(record(ready))
            except Exception:  # noqa: BLE001 - unrecorded captures stay due for the sweeper
                logger.exception("recording %d downloaded capture(s) failed", len(ready))
                outcomes["error"] += len(ready)
    left = late + list(ids)
    if left:  # past the budget: each to the queue, for any worker
        logger.info("%d capture download(s) left to the queue", len(left))
        outcomes["queued"] += len(left)
        queue_each(left)
    return outcomes
