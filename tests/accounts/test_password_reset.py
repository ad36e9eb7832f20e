"""Password reset: the same answer after the same work for any address, sent by the
worker, and limited per address and per client address."""

import logging
import re
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal import work
from portal.accounts import password_reset
from portal.accounts.models import PasswordResetRequest
from tests.conftest import make_user

State = PasswordResetRequest.State


def ask(client, email, ip="10.0.0.1", **extra):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip, **extra)


@pytest.fixture
def worker(django_capture_on_commit_callbacks):
    """Runs the queued task after the request commits (django-q2 is in sync mode)."""

    def run(client, email, ip="10.0.0.1", **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return ask(client, email, ip, **extra)

    return run


def page(response):
    # Only the per-response CSP nonce may differ between two answers.
    return re.sub(r'nonce="[^"]*"', 'nonce=""', response.content.decode())


def shape(sql):
    """A query without its values: what was done, not with which address or time."""
    return re.sub(r"'[^']*'|\b\d+(\.\d+)?\b|\bs\d+_x\d+\b", "?", sql)


def test_it_answers_the_same_page_for_an_existing_and_an_unknown_address(client, bob, worker):
    known = worker(client, "bob@example.org", follow=True)
    unknown = worker(client, "nobody@example.org", follow=True)
    assert known.redirect_chain == unknown.redirect_chain == [(reverse("password_reset_done"), 302)]
    assert page(known) == page(unknown)
    assert [m.to for m in mail.outbox] == [["bob@example.org"]]


def test_the_request_looks_no_account_up_and_does_the_same_work_for_any_address(client, bob):
    work = {}
    for email in ["bob@example.org", "nobody@example.org"]:
        with (
            CaptureQueriesContext(connection) as queries,
            mock.patch.object(password_reset, "enqueue") as enqueue,
            mock.patch.object(password_reset, "_send") as send,
        ):
            assert ask(client, email).status_code == 302
        row = PasswordResetRequest.objects.get(email=email)
        enqueue.assert_called_once_with(password_reset.send_reset_link, row.pk)
        send.assert_not_called()  # no token made, no message rendered in the request
        work[email] = [shape(q["sql"]) for q in queries]
        assert not [sql for sql in work[email] if "accounts_user" in sql]
    assert work["bob@example.org"] == work["nobody@example.org"]
    assert mail.outbox == []


def test_the_worker_sends_the_link_and_records_it(client, bob, worker, settings):
    worker(client, "ＢＯＢ@Example.org")
    [message] = mail.outbox
    assert message.to == ["bob@example.org"]
    assert f"{settings.PORTAL_BASE_URL}/accounts/reset/" in message.body
    row = PasswordResetRequest.objects.get()
    assert (row.email, row.state, row.client_ip) == ("bob@example.org", State.SENT, "10.0.0.1")
    assert row.finished_at is not None


def test_an_unknown_inactive_or_passwordless_address_is_sent_nothing(client, db, worker):
    make_user("gone@example.org").__class__.objects.filter(email="gone@example.org").update(
        is_active=False
    )
    sso = make_user("sso@example.org")
    sso.set_unusable_password()
    sso.save()
    for email in ["nobody@example.org", "gone@example.org", "sso@example.org"]:
        assert worker(client, email).status_code == 302
    assert mail.outbox == []
    assert set(PasswordResetRequest.objects.values_list("state", flat=True)) == {State.NO_ACCOUNT}


def test_the_fourth_request_to_one_address_in_an_hour_sends_nothing(
    client, bob, worker, settings, caplog
):
    assert settings.PORTAL_PASSWORD_RESET_PER_ADDRESS == 3
    # Other spellings and other clients count against the same address.
    spellings = ["bob@example.org", "BOB@example.org", "ｂｏｂ@example.org", "Bob@Example.org"]
    with caplog.at_level(logging.WARNING, logger="portal.accounts.password_reset"):
        answers = [worker(client, e, ip=f"10.0.0.{i}") for i, e in enumerate(spellings)]
    assert {a.status_code for a in answers} == {302}
    assert {a.url for a in answers} == {reverse("password_reset_done")}
    assert len(mail.outbox) == 3
    refused = PasswordResetRequest.objects.get(state=State.LIMITED_ADDRESS)
    assert refused.client_ip == "10.0.0.3"
    assert f"password reset request {refused.pk} refused" in caplog.text
    # An hour after the first requests, the address may ask again.
    PasswordResetRequest.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    worker(client, "bob@example.org")
    assert len(mail.outbox) == 4


def test_one_client_asking_for_many_addresses_is_limited(client, alice, bob, worker, settings):
    settings.PORTAL_PASSWORD_RESET_PER_CLIENT = 2
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    proxy = {"HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    for email in ["nobody@example.org", "alice@example.org", "bob@example.org"]:
        assert worker(client, email, ip="10.9.9.9", **proxy).status_code == 302
    assert mail.outbox[0].to == ["alice@example.org"] and len(mail.outbox) == 1
    refused = PasswordResetRequest.objects.get(state=State.LIMITED_CLIENT)
    assert (refused.email, refused.client_ip) == ("bob@example.org", "198.51.100.7")
    # Another client behind the same proxy is not held back.
    worker(client, "bob@example.org", ip="10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert mail.outbox[-1].to == ["bob@example.org"]


def test_an_invalid_address_is_refused_in_the_form_and_recorded_nowhere(client, db):
    response = ask(client, "not an address")
    assert response.status_code == 200
    assert "Enter a valid email address" in response.content.decode()
    assert not PasswordResetRequest.objects.exists()


def test_the_task_sends_once_however_often_it_runs(client, bob, worker):
    worker(client, "bob@example.org")
    row = PasswordResetRequest.objects.get()
    assert password_reset.send_reset_link(row.pk) == "not queued"
    assert len(mail.outbox) == 1


def test_a_failure_to_send_is_retried_then_recorded_for_the_operator(client, bob, worker):
    with mock.patch.object(password_reset, "send_mail", side_effect=OSError("SMTP is down")):
        assert worker(client, "bob@example.org").status_code == 302
        row = PasswordResetRequest.objects.get()
        assert (row.state, row.attempts) == (State.QUEUED, 1)
        assert row.last_error == "OSError: SMTP is down"
        assert row.next_attempt_at > timezone.now()  # backing off
        assert password_reset.send_reset_link(row.pk) == "not queued"
        for attempt in range(2, work.MAX_ATTEMPTS + 1):
            PasswordResetRequest.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
            expected = State.FAILED if attempt == work.MAX_ATTEMPTS else "retry"
            assert password_reset.send_reset_link(row.pk) == expected
    row.refresh_from_db()
    assert (row.state, row.attempts, row.next_attempt_at) == (State.FAILED, 8, None)
    assert row.finished_at is not None and mail.outbox == []


def test_a_request_whose_queue_message_was_lost_is_sent_by_the_sweeper(client, bob):
    from portal.work import sweeper

    with mock.patch.object(password_reset, "enqueue"):  # the message is lost
        ask(client, "bob@example.org")
    row = PasswordResetRequest.objects.get()
    assert (row.state, mail.outbox) == (State.QUEUED, [])
    sent = []
    with mock.patch("portal.work.sweeper.enqueue", lambda task, pk: sent.append((task, pk))):
        assert sweeper.sweep()["PasswordResetRequest"] == 1
    [(task, pk)] = sent
    assert task(pk) == State.SENT
    assert mail.outbox[-1].to == ["bob@example.org"]


def test_old_requests_are_deleted_as_new_ones_come(client, db):
    PasswordResetRequest.objects.create(
        email="old@example.org", created_at=timezone.now() - timedelta(days=8)
    )
    ask(client, "new@example.org")
    assert list(PasswordResetRequest.objects.values_list("email", flat=True)) == ["new@example.org"]


def test_operators_see_refused_requests_in_admin(client, bob, worker, settings):
    settings.PORTAL_PASSWORD_RESET_PER_ADDRESS = 1
    worker(client, "bob@example.org")
    worker(client, "bob@example.org")
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    listing = client.get(reverse("admin:accounts_passwordresetrequest_changelist"))
    assert listing.status_code == 200
    assert "Refused: too many for this address" in listing.content.decode()
    add = client.get(reverse("admin:accounts_passwordresetrequest_add"))
    assert add.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_when_requests_arrive_at_once(monkeypatch):
    """Separate connections, as several web processes would have: still 3 at most."""
    monkeypatch.setattr(password_reset, "enqueue", lambda *args: None)
    barrier = threading.Barrier(6)
    errors = []

    def request():
        try:
            barrier.wait(timeout=10)
            password_reset.request_reset("bob@example.org", f"10.0.0.{threading.get_ident() % 250}")
        except Exception as e:  # reported below: a thread's exception is otherwise lost
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    states = list(PasswordResetRequest.objects.values_list("state", flat=True))
    assert sorted(states) == [State.LIMITED_ADDRESS] * 3 + [State.QUEUED] * 3
