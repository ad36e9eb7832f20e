"""Durable work: the rows are the truth, queued tasks only nudges.

- ``models``: ``Work``, the fields of every row of durable work;
- ``policy``: claiming and the one retry policy;
- ``heartbeat``: short claims renewed while their task runs, let go when it ends;
- ``queueing``: ``enqueue(task, *args)``, after the commit (or inside it, on the ORM broker);
- ``registry``: every kind of work (its rows, when they wait, the task that does them),
  registered by the app that owns it; ``nudge(row)`` queues a row's task;
- ``sweeper``: re-queues every due row of every registered kind, and (every few seconds,
  in each worker) the rows whose claim ran out;
- ``schedules``: the recurring tasks, registered by their apps and kept as django-q2
  schedules after ``migrate``;
- ``admin``: what every admin page of durable work shares ("retry now").

The policy is re-exported here, so ``from portal import work`` then ``work.claim(...)``;
nothing here imports a model, so the package is importable while apps load.
"""

from portal.work.heartbeat import ClaimLost, lease, running
from portal.work.policy import (
    ERROR_LIMIT,
    FIRST_RETRY,
    MAX_ATTEMPTS,
    MAX_BACKOFF,
    backoff,
    claim,
    due,
    fail,
    fail_or_give_up,
    finish,
    schedule_now,
)

__all__ = [
    "ERROR_LIMIT",
    "FIRST_RETRY",
    "ClaimLost",
    "MAX_ATTEMPTS",
    "MAX_BACKOFF",
    "backoff",
    "claim",
    "due",
    "fail",
    "fail_or_give_up",
    "finish",
    "lease",
    "running",
    "schedule_now",
]
