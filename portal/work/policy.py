"""Work that is never lost: the one retry policy for every durable unit of work.

A unit of work (a notification to fetch, a capture to download, a link to confirm, a
report to push) is a database row. ``next_attempt_at`` says when it is due (``None``:
nothing to do). A worker *claims* a row with a conditional UPDATE, so two workers never
run the same row at once; the claim is a short lease (``claimed_until``,
``PORTAL_WORK_LEASE_SECONDS``) renewed by a heartbeat while the task runs
(``heartbeat``), so it runs out soon after a worker dies and the sweeper hands the row
out again. Failures back off exponentially with full jitter, and give up after
``MAX_ATTEMPTS``.
Queued tasks are only nudges: the rows are the truth.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from portal.work import heartbeat

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=20)  # the first retry comes well within a minute
MAX_BACKOFF = timedelta(hours=1)
ERROR_LIMIT = 2000


def backoff(attempts: int, rng=random, *, max_backoff: timedelta = MAX_BACKOFF) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (full jitter)."""
    ceiling = min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), max_backoff)
    # Full jitter, but never less than a few seconds: a burst of failures (an outage)
    # then spreads out instead of retrying in lockstep.
    return timedelta(seconds=max(3.0, rng.uniform(0, ceiling.total_seconds())))


def due(queryset, now=None):
    """Rows whose work is due and not held by a live claim."""
    now = now or timezone.now()
    return queryset.filter(next_attempt_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def claim(model, pk, lease: timedelta | None = None, *, related=(), **extra_filters):
    """Take the row for this worker; ``None`` if it is not due or someone else has it.

    The claim lasts ``lease`` (default ``PORTAL_WORK_LEASE_SECONDS``) and, inside a
    running task, is renewed by a heartbeat until the task records the outcome or ends.
    The claim is known by its moment (``last_attempt_at``): the returned row carries it,
    and its saves only apply while the claim still holds (``Work.save``). ``related``:
    relations to read with the row (``select_related``), saving the task a query each.
    """
    length = lease or heartbeat.lease()
    now = timezone.now()
    taken = due(model._default_manager.filter(pk=pk, **extra_filters), now).update(
        claimed_until=now + length, attempts=F("attempts") + 1, last_attempt_at=now
    )
    if not taken:
        return None
    obj = model._default_manager.select_related(*related).get(pk=pk)
    if obj.last_attempt_at != now:  # overtaken already (only if this worker stalled)
        return None
    obj._work_claim = now
    heartbeat.hold(model, pk, now, length)
    return obj


def schedule_now(obj, fields=()):
    """Make the row due immediately (new work, or an admin's "retry now")."""
    obj.next_attempt_at = timezone.now()
    obj.claimed_until = None
    return ["next_attempt_at", "claimed_until", *fields]


def finish(obj):
    """The work is done: nothing more is due (the caller saves the fields returned)."""
    heartbeat.let_go(obj)
    obj.next_attempt_at = None
    obj.claimed_until = None
    obj.last_error = ""
    return ["next_attempt_at", "claimed_until", "last_error"]


def scheduled_wait(attempts: int, schedule: Sequence[timedelta], rng=random) -> timedelta:
    """The wait after the ``attempts``-th failed attempt on a fixed ``schedule``.

    ``schedule[0]`` follows the first failure, and so on (the last entry repeats); up to
    a tenth more is added at random, so endpoints failing together do not retry in step.
    """
    wait = schedule[min(max(attempts, 1), len(schedule)) - 1]
    return wait * rng.uniform(1.0, 1.1)


def fail(
    obj,
    error: str,
    *,
    permanent: bool = False,
    rng=random,
    max_attempts: int | None = None,
    max_backoff: timedelta = MAX_BACKOFF,
    schedule: Sequence[timedelta] | None = None,
) -> tuple[bool, list[str]]:
    """Record a failed attempt. Returns ``(gave_up, fields)``.

    A permanent error, or the last allowed attempt, gives up: nothing more is scheduled
    and the caller moves the row to its visible *failed* state.

    A kind of work may override the policy per call: ``max_attempts`` (default
    ``MAX_ATTEMPTS``, or one more than the schedule's length), ``max_backoff`` (the
    ceiling of the exponential backoff), or a fixed ``schedule`` of waits (e.g. outbound
    webhooks, retried for more than a day).
    """
    if max_attempts is None:
        max_attempts = len(schedule) + 1 if schedule else MAX_ATTEMPTS
    heartbeat.let_go(obj)
    obj.last_error = error[:ERROR_LIMIT]
    obj.claimed_until = None
    gave_up = permanent or obj.attempts >= max_attempts
    if gave_up:
        obj.next_attempt_at = None
    elif schedule:
        obj.next_attempt_at = timezone.now() + scheduled_wait(obj.attempts, schedule, rng)
    else:
        wait = backoff(obj.attempts, rng, max_backoff=max_backoff)
        obj.next_attempt_at = timezone.now() + wait
    return gave_up, ["last_error", "claimed_until", "next_attempt_at"]


def fail_or_give_up(
    obj,
    error: str,
    *,
    permanent: bool = False,
    failed_state: str = "failed",
    rng=random,
    **policy,
) -> tuple[str, list[str]]:
    """``fail``, moving the row to its visible *failed* state when it gives up.

    Returns the outcome in a word (``"failed"`` or ``"retry"``) and the fields to save.
    ``policy``: ``fail``'s per-call overrides (``max_attempts``, ``max_backoff``,
    ``schedule``).
    """
    gave_up, fields = fail(obj, error, permanent=permanent, rng=rng, **policy)
    if gave_up:
        obj.state = failed_state
        fields.append("state")
    return ("failed" if gave_up else "retry"), fields


def retrying(queryset, waiting_state: str = "pending"):
    """Rows still waiting whose last attempt failed: the work will be tried again.

    What a counter of failures must show next to the failed ones (a download retried
    for the fourth time is not "0 failed"); ``fail`` keeps ``last_error`` until the
    work is done (``finish`` clears it).
    """
    return queryset.filter(state=waiting_state, attempts__gt=0).exclude(last_error="")
