"""The sweeper: every minute, re-queue each due row of every registered kind.

Queued tasks are nudges and may be lost (a broker restart, a failed enqueue, a worker
killed holding a lease); the rows are not. Whatever is due and not under a live claim
is handed out again, oldest first, in bounded batches.
"""

from __future__ import annotations

from portal.work import policy, registry
from portal.work.queueing import enqueue

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
