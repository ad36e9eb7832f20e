"""Short claims renewed while their task runs, owned by the claim that took them."""

import threading
import time
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from portal import work
from portal.notifications.models import Email
from portal.work import heartbeat, sweeper
from tests.work.conftest import queued_email

pytestmark = pytest.mark.django_db(transaction=True)


def heartbeat_threads():
    return [t for t in threading.enumerate() if t.name.startswith("work-heartbeat-")]


def wait_for(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def take_over(row):
    """What another worker does once this one's lease ran out: a claim of its own."""
    now = timezone.now()
    type(row).objects.filter(pk=row.pk).update(
        claimed_until=now + work.lease(), last_attempt_at=now, attempts=F("attempts") + 1
    )
    return now


def test_the_lease_is_the_setting(email, settings):
    settings.PORTAL_WORK_LEASE_SECONDS = 45
    before = timezone.now()
    claimed = work.claim(Email, email.pk, state=Email.State.QUEUED)
    assert claimed.claimed_until - claimed.last_attempt_at == timedelta(seconds=45)
    assert claimed.last_attempt_at >= before
    # Outside a running task nothing renews it: no thread is started.
    assert heartbeat.heartbeats() == [] and heartbeat_threads() == []


def test_a_running_task_renews_its_claim_and_leaves_no_thread(email, short_lease):
    with work.running():
        claimed = work.claim(Email, email.pk, state=Email.State.QUEUED)
        first = claimed.claimed_until
        (beat,) = heartbeat.heartbeats()
        assert beat.interval == pytest.approx(1.0)
        assert wait_for(lambda: beat.renewals >= 2, seconds=4)
        email.refresh_from_db()
        # Renewed: the lease now runs well past the first one, from the last beat.
        assert email.claimed_until > first + timedelta(seconds=1)
        assert email.last_attempt_at == claimed.last_attempt_at  # the same claim
        assert email.attempts == 1  # a renewal is not an attempt
    assert heartbeat.heartbeats() == []
    assert heartbeat_threads() == []
    assert not beat.is_alive()


def test_finishing_stops_the_heartbeat_at_once(email, short_lease):
    with work.running():
        claimed = work.claim(Email, email.pk, state=Email.State.QUEUED)
        (beat,) = heartbeat.heartbeats()
        claimed.state = Email.State.SENT
        claimed.save(update_fields=["state", *work.finish(claimed)])
        assert heartbeat.heartbeats() == []
        assert wait_for(lambda: not beat.is_alive(), seconds=2)
        assert beat.renewals == 0
    email.refresh_from_db()
    assert email.state == "sent" and email.claimed_until is None and email.next_attempt_at is None


def test_a_failed_attempt_stops_the_heartbeat(email, short_lease):
    with work.running():
        claimed = work.claim(Email, email.pk, state=Email.State.QUEUED)
        (beat,) = heartbeat.heartbeats()
        _, fields = work.fail(claimed, "the mail server is down")
        claimed.save(update_fields=fields)
        assert wait_for(lambda: not beat.is_alive(), seconds=2)
    email.refresh_from_db()
    assert email.claimed_until is None and email.last_error == "the mail server is down"


def test_a_claim_let_go_by_someone_else_is_not_renewed(email, short_lease):
    # An administrator's "retry now" (or the watch) clears the claim: the heartbeat
    # must not bring it back.
    with work.running():
        work.claim(Email, email.pk, state=Email.State.QUEUED)
        (beat,) = heartbeat.heartbeats()
        Email.objects.filter(pk=email.pk).update(claimed_until=None)
        assert wait_for(lambda: not beat.is_alive(), seconds=3)
        assert beat.lost
    email.refresh_from_db()
    assert email.claimed_until is None


def test_an_overtaken_claim_can_neither_be_renewed_nor_saved(email, short_lease):
    with work.running():
        claimed = work.claim(Email, email.pk, state=Email.State.QUEUED)
        (beat,) = heartbeat.heartbeats()
        # This worker stalled past its lease; another worker claimed the row.
        theirs = take_over(email)
        assert beat.renew() is False
        assert wait_for(lambda: not beat.is_alive(), seconds=3)
        assert beat.lost
        # The stalled worker's outcome is refused, through the instance it claimed...
        claimed.state = Email.State.SENT
        with pytest.raises(work.ClaimLost):
            claimed.save(update_fields=["state", *work.finish(claimed)])
        # ...a failure recorded on it...
        _, fields = work.fail(claimed, "timed out")
        with pytest.raises(work.ClaimLost):
            claimed.save(update_fields=fields)
        # ...and a whole-row save, which would otherwise overwrite every column.
        with pytest.raises(work.ClaimLost):
            claimed.save()
    email.refresh_from_db()
    assert email.state == "queued" and email.last_error == ""
    assert email.last_attempt_at == theirs and email.claimed_until > timezone.now()
    assert email.attempts == 2


def test_a_row_loaded_again_inside_the_task_is_guarded_by_the_live_claim(email, short_lease):
    with work.running():
        work.claim(Email, email.pk, state=Email.State.QUEUED)
        again = Email.objects.get(pk=email.pk)  # as a task that re-reads its row does
        again.subject = "Still ours"
        again.save(update_fields=["subject"])  # the claim holds: saved
        take_over(email)
        again.subject = "No longer ours"
        with pytest.raises(work.ClaimLost):
            again.save(update_fields=["subject"])
    email.refresh_from_db()
    assert email.subject == "Still ours"


def test_saves_outside_any_claim_are_unchanged(email):
    # The admin, the web pages: no claim, no condition.
    row = Email.objects.get(pk=email.pk)
    take_over(email)
    row.subject = "Edited"
    row.save(update_fields=["subject"])
    email.refresh_from_db()
    assert email.subject == "Edited"


def test_claiming_a_row_again_in_the_same_task_keeps_one_heartbeat(email, short_lease):
    # A task may take a row in two steps (a report drawn, then pushed): the second claim
    # replaces the first's heartbeat.
    with work.running():
        first = work.claim(Email, email.pk, state=Email.State.QUEUED)
        (beat1,) = heartbeat.heartbeats()
        Email.objects.filter(pk=email.pk).update(claimed_until=None)
        second = work.claim(Email, email.pk, state=Email.State.QUEUED)
        (beat2,) = heartbeat.heartbeats()
        assert beat2 is not beat1 and beat2.token == second.last_attempt_at
        assert beat2.token != first.last_attempt_at
        assert wait_for(lambda: not beat1.is_alive(), seconds=2)
    assert heartbeat_threads() == []


def test_threads_of_a_task_claim_under_it_while_they_live(northside, short_lease):
    # Concurrent downloads claim their rows from threads the running task started:
    # renewed while each thread works, stopped when it ends, whatever else runs.
    emails = [queued_email(northside, f"Exam {n}") for n in range(3)]
    release = threading.Event()

    def download(pk):
        work.claim(Email, pk, state=Email.State.QUEUED)
        release.wait(10)

    with work.running():
        threads = [threading.Thread(target=download, args=(e.pk,)) for e in emails]
        for t in threads:
            t.start()
        assert wait_for(lambda: len(heartbeat.heartbeats()) == 3)
        beats = heartbeat.heartbeats()
        assert wait_for(lambda: all(b.renewals >= 1 for b in beats), seconds=4)
        with work.running():  # another task of the process (a watch) ends meanwhile
            pass
        assert all(b.is_alive() for b in beats)
        release.set()
        for t in threads:
            t.join()
        assert wait_for(lambda: not any(b.is_alive() for b in beats), seconds=3)
    assert heartbeat.heartbeats() == [] and heartbeat_threads() == []


def slow_claim(email_id: int, seconds: float, error: bool = False) -> str:
    """A task that claims its row and takes a while (run through django-q2 below)."""
    claimed = work.claim(Email, email_id, state=Email.State.QUEUED)
    assert claimed is not None
    time.sleep(seconds)
    if error:
        raise RuntimeError("the task broke without recording an outcome")
    return "slept"


def test_a_task_run_by_django_q_is_renewed_then_let_go(email, short_lease):
    # Through django-q2's worker loop (sync mode here, as in the tests; a cluster runs
    # the same loop): the heartbeat runs for as long as the task, then stops.
    async_task(slow_claim, email.pk, 2.2, sync=True)
    email.refresh_from_db()
    assert email.claimed_until - email.last_attempt_at > timedelta(seconds=3.5)  # renewed
    assert heartbeat.heartbeats() == [] and heartbeat_threads() == []


def test_a_task_that_raises_leaves_no_heartbeat(email, short_lease):
    with pytest.raises(RuntimeError):
        async_task(slow_claim, email.pk, 0.1, True, sync=True)
    assert heartbeat.heartbeats() == [] and heartbeat_threads() == []
    email.refresh_from_db()
    # The claim stays until its lease runs out; the watch then hands the row out.
    assert email.claimed_until > timezone.now()


def test_the_watch_hands_out_a_claim_that_ran_out_once(northside, monkeypatch):
    queued = []
    monkeypatch.setattr(sweeper, "enqueue", lambda task, pk: queued.append((task, pk)))
    dead = queued_email(northside, "held by a dead worker")
    alive = queued_email(northside, "held by a live worker")
    done = queued_email(northside, "sent")
    for row in (dead, alive, done):
        work.claim(Email, row.pk)
    Email.objects.filter(pk=dead.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    Email.objects.filter(pk=done.pk).update(
        state=Email.State.SENT, next_attempt_at=None, claimed_until=timezone.now()
    )
    assert sweeper.release_expired()["Email"] == 1
    assert [pk for _, pk in queued] == [dead.pk]
    dead.refresh_from_db()
    assert dead.claimed_until is None and dead.next_attempt_at is not None
    # Another worker's watch, a moment later, finds nothing more to do.
    assert sweeper.release_expired()["Email"] == 0
    assert len(queued) == 1
    # The row is taken again by the next claim.
    assert work.claim(Email, dead.pk, state=Email.State.QUEUED).attempts == 2


def test_the_watch_starts_only_in_a_cluster_worker(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    assert sweeper.start_watch() is None
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    assert sweeper.start_watch() is None  # the main process, not a worker
