"""A doorbell for watches: wake a worker's watch at once when new work is due.

A watch (``integrations.clarius.ingestion.receipts``) finds its work in the database,
so nothing is lost when a ring is: the ring only says "look now" instead of at the next
poll. With Redis each ring is one ``LPUSH`` on a list and each watch blocks on
``BLPOP`` between looks, so exactly one idle watch wakes per ring, within a round trip,
and an idle watch reads the database once a second instead of ten times. Without Redis
(the ORM broker) there is no bell: watches poll (``PORTAL_RECEIPT_POLL_MS``).

Ringing costs the caller one Redis command, nothing pickled or signed: the webhook rings
after its answer is sent. The list is trimmed, so rings made while no watch runs (the
workers stopped) cannot pile up; a watch that starts looks in the database first.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

# Rings kept while no watch takes them: more would only wake watches with nothing to do.
KEPT_RINGS = 64

_client = {"pid": None, "client": None}
_client_lock = threading.Lock()


def available() -> bool:
    """Whether there is a bell: the Redis broker, not sync mode (tests run tasks inline)."""
    q = settings.Q_CLUSTER
    return bool(q.get("redis")) and not q.get("sync")


def _redis():
    """One client per process (its pool is per process; a forked worker makes its own)."""
    with _client_lock:
        if _client["pid"] != os.getpid():
            import redis

            client = redis.Redis.from_url(
                settings.Q_CLUSTER["redis"], socket_connect_timeout=2, socket_timeout=5
            )
            _client.update(pid=os.getpid(), client=client)
        return _client["client"]


def key(bell: str) -> str:
    return f"{settings.Q_CLUSTER['name']}:wake:{bell}"


def ring(bell: str) -> bool:
    """Wake one watch waiting on ``bell``; False (logged) if Redis could not be told, in
    which case the watch finds the work at its next look."""
    if not available():
        return False
    try:
        with _redis().pipeline(transaction=False) as pipe:
            pipe.lpush(key(bell), b"1")
            pipe.ltrim(key(bell), 0, KEPT_RINGS - 1)
            pipe.execute()
    except Exception as e:  # noqa: BLE001 - the work is in the database; the watch's look finds it
        logger.warning("could not ring %s (%s); the next look finds the work", bell, e)
        return False
    return True


def wait(bell: str, seconds: float) -> bool:
    """Block until ``bell`` rings or ``seconds`` pass: whether it rang. Without a bell, or
    with Redis away, this only sleeps."""
    if available():
        try:
            return _redis().blpop([key(bell)], timeout=max(seconds, 0.01)) is not None
        except Exception as e:  # noqa: BLE001 - Redis restarting: sleep, then look anyway
            logger.warning("could not wait on %s (%s)", bell, e)
    time.sleep(seconds)
    return False
