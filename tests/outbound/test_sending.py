"""Sending one row (``portal.outbound.sending``): the kind's answer and UID kept, the one
retry policy on failure, the destination's health (failing since, last success), and
"resend" (sent rows too; a row a worker holds is left alone)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from portal.outbound import kinds, planning, sending
from portal.outbound.models import Destination, Transmission
from portal.work.policy import MAX_ATTEMPTS
from tests.factories import make_exam
from tests.outbound.conftest import make_destination


def planned(northside, captures=1, **destination):
    d = make_destination(northside, **destination)
    exam = make_exam(northside, captures=captures)
    planning.plan_exam(exam)
    return d, list(Transmission.objects.filter(destination=d).order_by("pk"))


def test_a_success_keeps_the_answer_and_the_uid_and_clears_the_failing_spell(northside, receiver):
    d, [row] = planned(northside)
    Destination.objects.filter(pk=d.pk).update(
        failing_since=timezone.now() - timedelta(days=2), alerted_at=timezone.now()
    )
    receiver.answers = ["Stored\x00 \x1b[31m(0x0000)"]
    assert sending.send_transmission(row.pk) == "sent"
    row.refresh_from_db()
    assert row.state == "sent" and row.sent_at and row.uid == f"2.25.{row.pk}"
    assert row.remote_answer.startswith("Stored") and not {"\x00", "\x1b"} & set(row.remote_answer)
    assert row.claimed_until is None and row.attempts == 1
    d.refresh_from_db()
    assert d.failing_since is None and d.alerted_at is None and d.last_success_at
    assert sending.send_transmission(row.pk) == "not due"  # sent: never again by itself
    assert receiver.sent == [row.pk]


def test_a_failure_is_retried_then_given_up_and_marks_the_destination(northside, receiver):
    d, [row] = planned(northside)
    receiver.answers = [kinds.DeliveryFailed("The receiver is busy")] * MAX_ATTEMPTS
    assert sending.send_transmission(row.pk) == "retry"
    row.refresh_from_db()
    d.refresh_from_db()
    assert row.state == "pending" and row.next_attempt_at > timezone.now()
    assert row.last_error == "The receiver is busy"
    since = d.failing_since
    assert since is not None
    for _ in range(MAX_ATTEMPTS - 1):
        Transmission.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        sending.send_transmission(row.pk)
    row.refresh_from_db()
    d.refresh_from_db()
    assert row.state == "failed" and row.attempts == MAX_ATTEMPTS
    assert d.failing_since == since  # the first failure of the spell


def test_a_permanent_failure_gives_up_at_once(northside, receiver):
    _, [row] = planned(northside)
    receiver.answers = [kinds.DeliveryFailed("Association rejected", permanent=True)]
    assert sending.send_transmission(row.pk) == "failed"
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("failed", 1)


def test_an_unexpected_error_is_retried_not_lost(northside, receiver):
    _, [row] = planned(northside)
    receiver.answers = [OSError("disk on fire")]
    assert sending.send_transmission(row.pk) == "retry"
    row.refresh_from_db()
    assert row.state == "pending" and "OSError: disk on fire" in row.last_error


def test_a_switched_off_or_uninstalled_destination_sends_nothing(northside, receiver):
    d, [row] = planned(northside)
    Destination.objects.filter(pk=d.pk).update(is_active=False)
    assert sending.send_transmission(row.pk) == "failed"
    row.refresh_from_db()
    assert row.state == "failed" and "switched off" in row.last_error
    d.refresh_from_db()
    assert d.failing_since is None  # switched off by a person: not a failing receiver
    other, [gone] = planned(northside, name="Old")
    Destination.objects.filter(pk=other.pk).update(kind="uninstalled")
    assert sending.send_transmission(gone.pk) == "failed"
    gone.refresh_from_db()
    assert "uninstalled" in gone.last_error
    assert receiver.sent == []


def test_resend_sends_sent_and_failed_rows_again_but_not_held_ones(northside, receiver):
    d, rows = planned(northside, captures=3)
    receiver.answers = ["ok", kinds.DeliveryFailed("no", permanent=True), "ok"]
    for row in rows:
        sending.send_transmission(row.pk)
    Transmission.objects.filter(pk=rows[2].pk).update(
        claimed_until=timezone.now() + timedelta(minutes=5)
    )  # a worker holds it right now
    assert sending.resend(Transmission.objects.filter(destination=d)) == 2
    states = dict(Transmission.objects.values_list("pk", "state"))
    assert [states[r.pk] for r in rows] == ["pending", "pending", "sent"]
    again = Transmission.objects.get(pk=rows[1].pk)
    assert again.attempts == 0 and again.next_attempt_at <= timezone.now()
    receiver.answers = []
    for row in rows[:2]:
        assert sending.send_transmission(row.pk) == "sent"
    # The same object keeps its UID: the receiver replaces it instead of adding one.
    assert Transmission.objects.get(pk=rows[0].pk).uid == f"2.25.{rows[0].pk}"
