"""The worker's side: send one delivery, record its outcome, retry for more than a day.

A delivery is claimed (a lease, so two workers never send it at once; a worker killed
mid-request leaves it to the sweeper once the lease ends), signed now (``webhook-
timestamp`` is the time of this attempt, ``webhook-id`` the event's, the same on every
attempt), POSTed with a 10-second budget and recorded: status code, latency, the first
kilobyte of the answer. A 2xx is delivered; anything else is retried on the Standard
Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over
about 27 hours), then *failed*. An endpoint with no success for 3 days since its first
failure is disabled and its institution's admins are told by email.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from integrations.webhooks import addresses, endpoints, sending, signatures
from integrations.webhooks.models import Delivery, Endpoint
from portal import work
from portal.tenants.models import Membership
from portal.text import clean_text

logger = logging.getLogger(__name__)

SCHEDULE = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
DISABLE_AFTER = timedelta(days=3)


def deliver_webhook(pk: int) -> str:
    """Send one due delivery; its outcome in a word."""
    delivery = work.claim(Delivery, pk, state=Delivery.State.PENDING)
    if delivery is None:
        return "not due"
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        return _failed(delivery, "The endpoint is disabled.", permanent=True, counts=False)
    now = timezone.now()
    timestamp = int(now.timestamp())
    body = delivery.event.body.encode()
    headers = {
        "webhook-id": delivery.event.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures.signature_header(
            endpoints.signing_secrets(endpoint, now), delivery.event.webhook_id, timestamp, body
        ),
    }
    try:
        answer = sending.post(endpoint.url, headers, body)
    except addresses.UrlRefused as e:
        return _failed(delivery, f"Not sent: {e}")
    except sending.SendFailed as e:
        return _failed(delivery, f"No answer: {e}")
    delivery.status_code = answer.status
    delivery.latency_ms = answer.latency_ms
    delivery.response_excerpt = answer.excerpt
    recorded = ["status_code", "latency_ms", "response_excerpt"]
    if 200 <= answer.status < 300:
        delivery.state = Delivery.State.DELIVERED
        delivery.delivered_at = timezone.now()
        with transaction.atomic():
            delivery.save(
                update_fields=["state", "delivered_at", *recorded, *work.finish(delivery)]
            )
            Endpoint.objects.filter(pk=endpoint.pk).update(
                last_success_at=delivery.delivered_at, failing_since=None
            )
        return "delivered"
    if 300 <= answer.status < 400:
        error = f"HTTP {answer.status}: redirects are not followed (to {answer.location or '?'})"
    else:
        error = f"HTTP {answer.status}"
    return _failed(delivery, error, recorded=recorded)


def _failed(delivery, error, *, permanent=False, counts=True, recorded=()) -> str:
    error = clean_text(error, multiline=True)
    if not recorded:
        delivery.status_code = None
        delivery.latency_ms = None
        delivery.response_excerpt = ""
        recorded = ["status_code", "latency_ms", "response_excerpt"]
    outcome, fields = work.fail_or_give_up(delivery, error, permanent=permanent, schedule=SCHEDULE)
    with transaction.atomic():
        delivery.save(update_fields=[*fields, *recorded])
        disabled = counts and _note_failure(delivery.endpoint_id)
    if disabled:
        _tell_admins(disabled, error)
    return outcome


def _note_failure(endpoint_id: int) -> Endpoint | None:
    """Remember when the endpoint started failing; disable it after ``DISABLE_AFTER``.

    Returns the endpoint if this failure disabled it.
    """
    now = timezone.now()
    Endpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(failing_since=now)
    reason = "Disabled: no successful delivery for 3 days."
    disabled = Endpoint.objects.filter(
        pk=endpoint_id, enabled=True, failing_since__lte=now - DISABLE_AFTER
    ).update(enabled=False, disabled_at=now, disabled_reason=reason)
    if not disabled:
        return None
    logger.warning("webhook endpoint %s disabled after 3 days of failures", endpoint_id)
    return Endpoint.objects.select_related("institution").get(pk=endpoint_id)


def _tell_admins(endpoint: Endpoint, last_error: str) -> None:
    """Email the institution's admins (no patient data: the endpoint and the last error)."""
    recipients = list(
        Membership.objects.filter(
            institution_id=endpoint.institution_id, role=Membership.Role.ADMIN
        ).values_list("user__email", flat=True)
    )
    if not recipients:
        return
    subject = f"Webhook endpoint disabled: {endpoint.institution.name}"
    message = (
        f"The webhook endpoint {endpoint.url} of {endpoint.institution.name} has had no "
        f"successful delivery for 3 days, so the portal stopped sending to it.\n\n"
        f"Last error: {last_error[:300]}\n\n"
        "Fix the receiver, then enable the endpoint again under Webhooks and redeliver "
        "the events it missed."
    )
    try:
        send_mail(subject, message, None, recipients)
    except Exception:  # noqa: BLE001 - the endpoint is disabled either way; the page says so
        logger.exception("could not email the admins about webhook endpoint %s", endpoint.pk)
