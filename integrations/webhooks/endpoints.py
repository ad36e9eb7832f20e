"""Registering, changing, rotating and removing endpoints, and redelivering an event.

Shared by the pages, the ``webhook`` command and Django admin; every URL goes through
``addresses.check`` (``UrlRefused`` with the reason) and every secret is returned once.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from integrations.webhooks import addresses, signatures
from integrations.webhooks.models import Delivery, Endpoint
from portal import events, work
from portal.text import clean_text
from portal.work.registry import nudge

DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)


class EndpointRefused(ValueError):
    """A change the rules do not allow; the message says why."""


def check_events(names) -> list[str]:
    names = [str(name).strip() for name in names if str(name).strip()]
    unknown = [name for name in names if name not in events.EVENT_TYPES]
    if unknown:
        raise EndpointRefused(
            f"Unknown event type {clean_text(unknown[0], max_length=40)!r}; choose from "
            + ", ".join(events.EVENT_TYPES)
            + "."
        )
    if not names:
        raise EndpointRefused("Choose at least one event type.")
    return [name for name in events.EVENT_TYPES if name in names]


def check_url(url: str) -> str:
    try:
        addresses.check(url)
    except addresses.UrlRefused as e:
        raise EndpointRefused(str(e)) from None
    return url


def create(institution, url: str, event_types, *, description: str = "", user=None):
    """A new endpoint and its secret (to show once)."""
    url = check_url(url)
    event_types = check_events(event_types)
    secret = signatures.new_secret()
    endpoint = Endpoint.objects.create(
        institution=institution,
        url=url,
        events=event_types,
        description=clean_text(description, max_length=200),
        secret_encrypted=signatures.seal(secret),
        created_by=user if getattr(user, "pk", None) else None,
    )
    return endpoint, secret


def update(endpoint: Endpoint, *, url: str, event_types, description: str = "") -> Endpoint:
    endpoint.url = check_url(url)
    endpoint.events = check_events(event_types)
    endpoint.description = clean_text(description, max_length=200)
    endpoint.save(update_fields=["url", "events", "description", "updated_at"])
    return endpoint


def rotate(endpoint: Endpoint, overlap: timedelta = DEFAULT_OVERLAP) -> str:
    """A new secret; deliveries are signed with both until ``overlap`` has passed."""
    if overlap < timedelta(0) or overlap > MAX_OVERLAP:
        raise EndpointRefused("The overlap is between 0 and 7 days.")
    secret = signatures.new_secret()
    now = timezone.now()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted if overlap else ""
    endpoint.previous_secret_expires_at = now + overlap if overlap else None
    endpoint.secret_encrypted = signatures.seal(secret)
    endpoint.secret_rotated_at = now
    endpoint.save(
        update_fields=[
            "previous_secret_encrypted",
            "previous_secret_expires_at",
            "secret_encrypted",
            "secret_rotated_at",
            "updated_at",
        ]
    )
    return secret


def signing_secrets(endpoint: Endpoint, now=None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one
    while the rotation's overlap lasts."""
    now = now or timezone.now()
    found = [signatures.unseal(endpoint.secret_encrypted)]
    if (
        endpoint.previous_secret_encrypted
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(signatures.unseal(endpoint.previous_secret_encrypted))
    return found


def set_enabled(endpoint: Endpoint, enabled: bool, reason: str = "") -> None:
    endpoint.enabled = enabled
    endpoint.disabled_at = None if enabled else timezone.now()
    endpoint.disabled_reason = "" if enabled else clean_text(reason, max_length=300)
    if enabled:
        endpoint.failing_since = None
    endpoint.save(
        update_fields=["enabled", "disabled_at", "disabled_reason", "failing_since", "updated_at"]
    )


def redeliver(delivery: Delivery) -> Delivery:
    """A new attempt of the same event to the same endpoint (the same ``webhook-id``)."""
    if not delivery.endpoint.enabled:
        raise EndpointRefused("Enable the endpoint before redelivering to it.")
    with transaction.atomic():
        again = Delivery(
            institution_id=delivery.institution_id,
            event_id=delivery.event_id,
            endpoint_id=delivery.endpoint_id,
        )
        work.schedule_now(again)
        again.save()
        nudge(again)
    return again
