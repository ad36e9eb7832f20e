"""Enqueueing background work so that a task never runs for a row that is not committed.

With django-q2's ORM broker the queue is a table in the same database, so the task row
is written inside the current transaction: it commits, or rolls back, together with the
work that made it due, and costs no extra commit. Any other broker (Redis) is only
written after the commit. A failure to enqueue is logged and nothing more: the row is
due in the database and the sweeper hands it out.
"""

import logging
import os
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

_broker = {"pid": None, "broker": None}


def broker():
    """One broker per process: django-q2 would otherwise open a Redis connection per task."""
    if _broker["pid"] != os.getpid():
        from django_q.brokers import get_broker

        _broker.update(pid=os.getpid(), broker=get_broker())
    return _broker["broker"]


def queue_in_transaction() -> bool:
    q = settings.Q_CLUSTER
    return bool(q.get("orm")) and not q.get("sync") and connection.in_atomic_block


def task_path(func: Callable) -> str:
    """The dotted path the broker carries: a task is named by its function, never by hand."""
    if not callable(func):
        raise TypeError(f"a task is a function, not {func!r}")
    return f"{func.__module__}.{func.__qualname__}"


def enqueue(func: Callable, *args) -> None:
    """Queue ``func(*args)`` once the current transaction commits (see the module notes)."""
    from django_q.tasks import async_task

    func = task_path(func)
    options = {"broker": broker(), "sync": bool(settings.Q_CLUSTER.get("sync"))}

    def send():
        try:
            async_task(func, *args, **options)
        except Exception:
            logger.exception("could not enqueue %s%r; the sweeper will retry it", func, args)

    if queue_in_transaction():
        try:
            with transaction.atomic():  # a savepoint: a failed insert spoils nothing else
                async_task(func, *args, **options)
        except Exception:
            logger.exception("could not enqueue %s%r; the sweeper will retry it", func, args)
    else:
        transaction.on_commit(send)
