"""An exam's captures downloaded at once, by the task that fetched its data.

Queuing one task per capture costs a trip through the broker per capture (a poll of the
ORM broker each) and downloads them one worker at a time. Instead the task that stored
the exam data downloads the captures that became due itself, a few at a time:

- at most ``PORTAL_CAPTURE_DOWNLOADS_PER_EXAM`` at once for one exam, and at most
  ``PORTAL_CAPTURE_DOWNLOADS_PER_WORKER`` at once in one worker process, whatever the
  number of exams it is downloading;
- clips first (by the link's extension), so the longest downloads do not start last;
- each download is the first half of the one per-capture task
  (``tasks.prepare_capture``): it claims its row first, so a capture is never
  downloaded by two threads or workers at once, and records a failure and its retry by
  the one policy itself; the captures downloaded are recorded by the task's own thread,
  those ready at the same moment together (``tasks.record_captures``);
- each thread closes its own database connections when it ends (Django opens one per
  thread); on SQLite the writes queue on the busy timeout, on PostgreSQL they run side
  by side;
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
from django.db import connection, connections

logger = logging.getLogger(__name__)

DEFAULT_PER_EXAM = 4
DEFAULT_PER_WORKER = 8
CLIP_EXTENSIONS = (".mp4", ".mov", ".m4v", ".avi", ".webm")

_slots = {"pid": None, "size": None, "semaphore": None}
_slots_lock = threading.Lock()


def per_exam() -> int:
    return max(1, int(getattr(settings, "PORTAL_CAPTURE_DOWNLOADS_PER_EXAM", DEFAULT_PER_EXAM)))


def per_worker() -> int:
    return max(1, int(getattr(settings, "PORTAL_CAPTURE_DOWNLOADS_PER_WORKER", DEFAULT_PER_WORKER)))


def worker_slots() -> threading.BoundedSemaphore:
    """This process's download slots (a forked worker gets its own, never its parent's)."""
    size = per_worker()
    with _slots_lock:
        if _slots["pid"] != os.getpid() or _slots["size"] != size:
            _slots.update(pid=os.getpid(), size=size, semaphore=threading.BoundedSemaphore(size))
        return _slots["semaphore"]


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
    lock = threading.Lock()
    slots = worker_slots()
    deadline = time.monotonic() + budget_seconds()
    results: queue.SimpleQueue = queue.SimpleQueue()
    ended = object()  # a thread's last word

    def next_id() -> int | None:
        with lock:
            if ids and time.monotonic() < deadline:
                return ids.popleft()
            return None

    def run() -> None:
        try:
            while (capture_id := next_id()) is not None:
                with slots:
                    try:
                        results.put(prepare(capture_id))
                    except Exception:  # noqa: BLE001 - the others go on; the row stays due
                        logger.exception("downloading capture %s failed", capture_id)
                        results.put("error")
        finally:
            connections.close_all()
            results.put(ended)

    threads = [
        threading.Thread(target=run, name=f"capture-download-{n}", daemon=True)
        for n in range(min(per_exam(), per_worker(), len(ids)))
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    while running:
        batch = [results.get()]
        while not results.empty():
            batch.append(results.get())
        running -= sum(1 for item in batch if item is ended)
        ready = [item for item in batch if item is not ended and not isinstance(item, str)]
        outcomes.update(item for item in batch if isinstance(item, str))
        if ready:
            try:
                outcomes.update(record(ready))
            except Exception:  # noqa: BLE001 - unrecorded captures stay due for the sweeper
                logger.exception("recording %d downloaded capture(s) failed", len(ready))
                outcomes["error"] += len(ready)
    for thread in threads:
        thread.join()
    if ids:  # past the budget: each to the queue, for any worker
        logger.info("%d capture download(s) left to the queue", len(ids))
        outcomes["queued"] += len(ids)
        queue_each(ids)
    return outcomes
