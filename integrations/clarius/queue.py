"""Enqueueing background work: always after the transaction that made it due commits.

A task enqueued inside a transaction could run before the row it works on is visible,
or for a row that was rolled back. A failure to enqueue (the broker is down) is only
logged: the row is due in the database and the sweeper will hand it out.
"""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(func: str, *args) -> None:
    from django_q.tasks import async_task

    def send():
        try:
            async_task(func, *args)
        except Exception:
            logger.exception("could not enqueue %s%r; the sweeper will retry it", func, args)

    transaction.on_commit(send)
