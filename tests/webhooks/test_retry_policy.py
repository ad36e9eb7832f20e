"""``portal.work.policy``'s per-call overrides; the default policy is unchanged."""

import random
from datetime import timedelta
from types import SimpleNamespace

from django.utils import timezone

from portal import work
from portal.work import policy


def row(attempts):
    return SimpleNamespace(attempts=attempts, state="pending", last_error="", claimed_until=None)


def test_the_default_policy_is_unchanged():
    gave_up, _ = work.fail(row(policy.MAX_ATTEMPTS - 1), "x", rng=random.Random(1))
    assert not gave_up
    gave_up, _ = work.fail(row(policy.MAX_ATTEMPTS), "x")
    assert gave_up
    obj = row(20)
    obj.attempts = 5
    work.fail(obj, "x", rng=SimpleNamespace(uniform=lambda a, b: b))
    assert obj.next_attempt_at - timezone.now() <= policy.MAX_BACKOFF


def test_max_attempts_and_max_backoff_override_per_call():
    assert not work.fail(row(8), "x", max_attempts=12)[0]
    assert work.fail(row(3), "x", max_attempts=3)[0]
    obj = row(12)  # 20 s * 2**11 is far past the ceiling
    work.fail(
        obj,
        "x",
        max_attempts=20,
        max_backoff=timedelta(hours=6),
        rng=SimpleNamespace(uniform=lambda a, b: b),
    )
    wait = obj.next_attempt_at - timezone.now()
    assert timedelta(hours=5, minutes=59) < wait <= timedelta(hours=6)


def test_a_schedule_sets_each_wait_and_the_number_of_attempts():
    schedule = [timedelta(seconds=5), timedelta(hours=2), timedelta(hours=10)]
    waits = []
    for attempts in (1, 2, 3):
        obj = row(attempts)
        gave_up, _ = work.fail(obj, "x", schedule=schedule, rng=random.Random(0))
        assert not gave_up
        waits.append(obj.next_attempt_at - timezone.now())
    for wait, planned in zip(waits, schedule, strict=True):
        assert planned - timedelta(seconds=1) <= wait <= planned * 1.1
    outcome, fields = work.fail_or_give_up(row(4), "x", schedule=schedule)
    assert outcome == "failed" and "state" in fields
