"""Catching up with Clarius: exams whose notification never arrived, and link drift.

Clarius never retries a failed notification, so ``poll_accessible`` pages through
``exams/accessible/`` and records every request it has never seen, exactly as if its
notification had arrived. Memory stays bounded: one page of look-ups at a time.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from itertools import islice

from integrations.clarius.conf import api_url_refusal
from integrations.clarius.ingestion import linking
from integrations.clarius.ingestion.notifications import record_notifications
from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal import work
from portal.text import clean_text
from portal.work.registry import nudge

logger = logging.getLogger(__name__)
BATCH = 500


def batches(iterable, size=BATCH):
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def poll_accessible(client, customer_id: str | None = None) -> dict:
    """Record every accessible request the portal has not seen. Returns counts."""
    counts = {"seen": 0, "new": 0, "unassigned": 0, "rejected": 0}
    for batch in batches(client.iter_accessible_exams(customer_id=customer_id)):
        counts["seen"] += len(batch)
        new = record_unseen(batch)
        for key, value in new.items():
            counts[key] += value
    if counts["new"]:
        logger.warning("catch-up found %d exam(s) whose notification never arrived", counts["new"])
    return counts


def record_unseen(items) -> dict:
    """One page of accessible exams: two queries to look up, one insert for the new."""
    items = [item for item in items if normalised_uuid(item.request_uuid)]
    uuids = [normalised_uuid(item.request_uuid) for item in items]
    known = {
        str(u)
        for u in NotificationReceipt.objects.filter(request_uuid__in=uuids).values_list(
            "request_uuid", flat=True
        )
    }
    counts = {"new": 0, "unassigned": 0, "rejected": 0}
    acceptable = []
    for item in items:
        if normalised_uuid(item.request_uuid) in known:
            continue
        refusal = item_refusal(item)
        if refusal:
            counts["rejected"] += 1
            logger.warning("catch-up: skipping %s: %s", item.request_uuid, refusal)
        else:
            acceptable.append(item)
    # Only checked items are recorded: their tokens are looked up (see confirmed_links).
    notifications = [
        {
            "request_uuid": normalised_uuid(item.request_uuid),
            "exam_uuid": normalised_uuid(item.exam_uuid),
            "customer_id": item.customer_id,
            "download_url": item.download_url,
            "submitted_at": as_utc(item.submitted_at),
        }
        for item in acceptable
    ]
    for receipt in record_notifications(notifications, source=NotificationReceipt.Source.POLL):
        counts["new" if receipt.link_id else "unassigned"] += 1
    return counts


def item_refusal(item) -> str | None:
    """Why an accessible exam cannot be recorded as a receipt (the webhook's own checks:
    a customer token, a clean URL on the API origin, a time a database can hold)."""
    from integrations.clarius.ingestion.webhooks import TOKEN_RE

    if not (normalised_uuid(item.exam_uuid) and item.customer_id and item.submitted_at):
        return "incomplete"
    if not TOKEN_RE.match(item.customer_id):
        return "customer_id is not a customer token"
    if clean_text(item.download_url) != item.download_url:
        return "download_url holds control or invisible characters"
    if as_utc(item.submitted_at) is None:
        return "submitted_at is out of range"
    return api_url_refusal(item.download_url)


def as_utc(moment: datetime) -> datetime | None:
    """``moment`` in UTC (naive means UTC); None if UTC cannot express it (year 0)."""
    try:
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        return None


def normalised_uuid(value) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def reconcile_links(client) -> dict:
    """Compare our links with Clarius' confirmed tokens and repair the difference.

    A link confirmed here that Clarius does not list is confirmed again (the call is
    idempotent); a pending link that Clarius already lists is marked confirmed.
    """
    confirmed_there = set(client.iter_confirmed_tokens())
    report = {"confirmed_there": len(confirmed_there), "reconfirming": [], "now_confirmed": []}
    drifted = ClariusLink.objects.filter(state=ClariusLink.State.CONFIRMED).exclude(
        token__in=confirmed_there
    )
    for link in drifted:
        link.state = ClariusLink.State.PENDING
        link.attempts = 0
        link.save(update_fields=["state", "attempts", *work.schedule_now(link)])
        nudge(link)
        report["reconfirming"].append(link.masked_token)
    for link in ClariusLink.objects.filter(
        state=ClariusLink.State.PENDING, token__in=confirmed_there
    ):
        linking.mark_confirmed(link)
        report["now_confirmed"].append(link.masked_token)
    if report["reconfirming"] or report["now_confirmed"]:
        logger.warning("link drift repaired: %s", report)
    return report
