"""A doorbell for watches: wake a worker's watch at once when new work is due.

A watch (a worker thread that finds its work in the database, such as the Clarius
receipt watch) loses nothing when a ring is lost: a ring only says "look now" instead of
at the next poll. With Redis each ring is one ``LPUSH`` on a list and each watch blocks
on ``BLPOP`` between looks, so exactly one idle watch wakes per ring, within a round
trip, and an idle watch reads the database once a second instead of ten times. Without
Redis (the ORM broker) there is no bell: watches poll.

Ringing costs the caller one Redis command, nothing pickled or signed. The webhook does
not even wait for that: ``ring_soon`` hands the ring to a thread of its process. That
thread sends a ring at once when it has been quiet, then at most one command every
``RING_EVERY_SECONDS`` carrying every ring made meanwhile (a burst of notifications costs
a few Redis commands a second, not one each: measured, one each cost the webhook a
tenth of its throughput). A watch that wakes and finds more work due than it can take
rings for the others itself, so a burst spreads over the idle watches at once.

The list is trimmed, so rings made while no watch runs (the workers stopped) cannot pile
up; a watch that starts looks in the database first. A ring a web process had not sent
when it stopped is only a look made a second later.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter

from django.conf import settings

logger = logging.getLogger(__name__)

# Rings kept while no watch takes them: more would only wake watches with nothing to do.
KEPT_RINGS = 64
# Seconds a Redis command may take; a wait blocks a second less at most, then looks.
SOCKET_TIMEOUT = 5
# A process's ringer sends at most one Redis command this often (the first ring after a
# quiet spell goes at once): the most a ring made in a burst waits.
RING_EVERY_SECONDS = 0.05

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
                settings.Q_CLUSTER["redis"],
                socket_connect_timeout=2,
                socket_timeout=SOCKET_TIMEOUT,
            )
            _client.update(pid=os.getpid(), client=client)
        return _client["client"]


def key(bell: str) -> str:
    return f"{settings.Q_CLUSTER['name']}:wake:{bell}"


def ring(bell: str, times: int = 1) -> bool:
    """Wake ``times`` watches waiting on ``bell``, now; False (logged) if Redis could not
    be told, in which case the watches find the work at their next look."""
    return available() and _send(Counter({bell: times}))


def _send(rings: Counter) -> bool:
    try:
        with _redis().pipeline(transaction=False) as pipe:
            for bell, times in rings.items():
                pipe.lpush(key(bell), *[b"1"] * min(times, KEPT_RINGS))
                pipe.ltrim(key(bell), 0, KEPT_RINGS - 1)
            pipe.execute()
    except Exception as e:  # noqa: BLE001 - the work is in the database; the watch's look finds it
        logger.warning("could not ring %s (%s); the next look finds the work", ", ".join(rings), e)
        return False
    return True


_ringer = {"pid": None, "pending": Counter(), "event": threading.Event()}
_ringer_lock = threading.Lock()


def ring_soon(bell: str) -> None:
    """Ring ``bell`` from this process's ringer thread: the caller does not wait for Redis.
    Rings made within ``RING_EVERY_SECONDS`` of the last command go together in the next."""
    if not available():
        return
    with _ringer_lock:
        if _ringer["pid"] != os.getpid():  # a forked web worker starts its own
            _ringer.update(pid=os.getpid(), pending=Counter(), event=threading.Event())
            threading.Thread(target=_ring_loop, name="wake-ringer", daemon=True).start()
        _ringer["pending"][bell] += 1
        _ringer["event"].set()


def _ring_loop() -> None:
    event = _ringer["event"]
    while True:
        event.wait()
        with _ringer_lock:
            event.clear()
            rings, _ringer["pending"] = _ringer["pending"], Counter()
        if rings:
            _send(rings)
            time.sleep(RING_EVERY_SECONDS)


def wait(bell: str, seconds: float) -> bool:
    """Block until ``bell`` rings or ``seconds`` pass (at most ``SOCKET_TIMEOUT - 1``):
    whether it rang. Without a bell, or with Redis away, this only sleeps."""
    if available():
        seconds = min(max(seconds, 0.01), SOCKET_TIMEOUT - 1)
        try:
            return _redis().blpop([key(bell)], timeout=seconds) is not None
        except Exception as e:  # noqa: BLE001 - Redis restarting: sleep, then look anyway
            logger.warning("could not wait on %s (%s)", bell, e)
    time.sleep(seconds)
    return False
