"""Password reset links, sent by the worker so that the request tells nothing.

The request only validates the address, counts recent requests and records one (the
same work whether or not the address has an account), then queues the sending. Looking
the account up, making the token and rendering the message happen in the worker, where
their time cannot be measured by whoever asked. Requests are limited per address and
per client address within an hour; over a limit the answer is the same and nothing is
sent. The counts live in the database, so the limits hold across web processes.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from portal import work
from portal.accounts.models import PasswordResetRequest
from portal.text import clean_text
from portal.work.queueing import enqueue

logger = logging.getLogger(__name__)

State = PasswordResetRequest.State
WINDOW = timedelta(hours=1)
# Rows older than this are deleted as new requests come: long enough for an operator to
# look into a burst, short enough that a flood of requests does not grow the table.
RETENTION = timedelta(days=7)


def request_reset(email: str, client: str | None) -> PasswordResetRequest:
    """Record a request for a reset link to ``email`` (normalised) and queue the sending.

    No account is looked up here. Over a limit the request is recorded as refused, logged,
    and nothing is queued; the caller answers the same either way.
    """
    client = clean_text(client or "", max_length=64)
    now = timezone.now()
    with transaction.atomic():
        _serialise(f"address:{email}", f"client:{client}")
        state = _state_for(email, client, since=now - WINDOW)
        reset = PasswordResetRequest(email=email, client_ip=client, state=state, created_at=now)
        if state == State.QUEUED:
            work.schedule_now(reset)
        reset.save()
        if state == State.QUEUED:
            enqueue(send_reset_link, reset.pk)
        else:
            logger.warning(
                "password reset request %s refused (%s) from %s",
                reset.pk,
                reset.get_state_display(),
                client or "an unknown address",
            )
        PasswordResetRequest.objects.filter(created_at__lt=now - RETENTION).delete()
    return reset


def _state_for(email: str, client: str, since) -> str:
    accepted = PasswordResetRequest.objects.filter(created_at__gt=since).exclude(
        state__in=PasswordResetRequest.REFUSED
    )
    if accepted.filter(email=email).count() >= settings.PORTAL_PASSWORD_RESET_PER_ADDRESS:
        return State.LIMITED_ADDRESS
    if accepted.filter(client_ip=client).count() >= settings.PORTAL_PASSWORD_RESET_PER_CLIENT:
        return State.LIMITED_CLIENT
    return State.QUEUED


def _serialise(*keys: str) -> None:
    """Make concurrent requests for the same address or client count one after the other.

    Without it two web processes could both count 2 and both send a third and fourth
    link. PostgreSQL takes transaction-scoped advisory locks (always in the same order,
    so two requests cannot deadlock); SQLite already runs one writing transaction at a
    time (``transaction_mode: IMMEDIATE``).
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for key in sorted(keys):
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"portal.password-reset:{key}"],
            )


def send_reset_link(request_id: int) -> str:
    """The worker's half: find the account and email it a link; record the outcome."""
    reset = work.claim(PasswordResetRequest, request_id, state=State.QUEUED)
    if reset is None:  # sent already, refused, held by another worker or backing off
        return "not queued"
    user = get_user_model().objects.filter(email=reset.email, is_active=True).first()
    if user is None or not user.has_usable_password():
        return _finish(reset, State.NO_ACCOUNT)
    try:
        _send(user)
    except Exception as e:
        # The mail server may be down for a while: retried with the one policy, and
        # shown as *failed* (admin › Password reset requests) when it gives up.
        logger.exception("password reset request %s: the email could not be sent", reset.pk)
        outcome, fields = work.fail_or_give_up(
            reset, f"{type(e).__name__}: {e}", failed_state=State.FAILED
        )
        if outcome == "failed":
            reset.finished_at = timezone.now()
            fields.append("finished_at")
        reset.save(update_fields=fields)
        return State.FAILED if outcome == "failed" else "retry"
    return _finish(reset, State.SENT)


def _finish(reset: PasswordResetRequest, state: str) -> str:
    reset.state = state
    reset.finished_at = timezone.now()
    reset.save(update_fields=["state", "finished_at", *work.finish(reset)])
    return state


def _send(user) -> None:
    # The link names the portal's configured address, never the Host header of whoever
    # asked: a forged Host must not turn the link into one to another site.
    protocol, domain = settings.PORTAL_BASE_URL.split("://", 1)
    context = {
        "email": user.email,
        "protocol": protocol,
        "domain": domain,
        "site_name": "Clarius portal",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
    }
    subject = render_to_string("registration/password_reset_subject.txt", context)
    body = render_to_string("registration/password_reset_email.html", context)
    send_mail(" ".join(subject.split()), body, None, [user.email])
