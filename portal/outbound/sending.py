"""Sending one transmission: claim it, hand it to its kind, record what happened.

The one retry policy (``portal.work``): a failure backs off and is tried again, a
permanent one (or too many) gives up to the visible *failed*. A destination remembers
when it started failing and when it last succeeded, so a destination failing for a day
alerts its institution's admins (``portal.outbound.alerts``).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal import storage, work
from portal.exams.models import Capture
from portal.outbound import kinds
from portal.outbound.models import ANSWER_LIMIT, Destination, Transmission
from portal.retention.notice import removed_message
from portal.text import clean_text
from portal.work import registry

logger = logging.getLogger(__name__)


def send_transmission(transmission_id: int) -> str:
    """The worker's task for one row: the outcome, in a word."""
    transmission = work.claim(Transmission, transmission_id, state=Transmission.State.PENDING)
    if transmission is None:
        return "not due"
    transmission = Transmission.objects.select_related(
        "destination", "exam", "exam__institution", "capture", "report"
    ).get(pk=transmission.pk)
    return send(transmission)


def send(transmission: Transmission) -> str:
    """Send one claimed row and record the outcome."""
    destination = transmission.destination
    kind = kinds.get(destination.kind)
    if kind is None:
        return _failed(
            transmission, f"no destination kind {destination.kind!r} is installed", permanent=True
        )
    if not destination.is_active:
        # Switched off by a person: the row ends, but the receiver is not failing (no
        # failing spell, so no alert when it is switched on again).
        return _failed(
            transmission, "the destination is switched off", permanent=True, receiver=False
        )
    removed = media_removed(transmission)
    if removed:
        # Nothing left to send, for good: the row ends with the reason, and the receiver
        # is not failing (no failing spell, no alert).
        return _failed(transmission, removed, permanent=True, receiver=False)
    try:
        answer = kind.send(transmission)
    except kinds.DeliveryFailed as e:
        return _failed(transmission, str(e), permanent=e.permanent)
    except Exception as e:  # noqa: BLE001 - a delivery must never be dropped unseen
        logger.exception("transmission %s to %s failed", transmission.pk, destination.pk)
        return _failed(transmission, f"{type(e).__name__}: {e}", permanent=False)
    now = timezone.now()
    transmission.state = Transmission.State.SENT
    transmission.sent_at = now
    transmission.remote_answer = clean_text(answer or "", max_length=ANSWER_LIMIT, multiline=True)
    with transaction.atomic():
        transmission.save(
            update_fields=[
                "state",
                "sent_at",
                "remote_answer",
                "uid",
                *work.finish(transmission),
            ]
        )
        Destination.objects.filter(pk=destination.pk).update(
            failing_since=None, alerted_at=None, last_success_at=now
        )
    return "sent"


def media_removed(transmission: Transmission) -> str:
    """Why the media this row sends is gone (the retention policy removed it), or ""."""
    capture = transmission.capture
    if capture is not None and capture.media_purged_at is not None:
        return removed_message(capture)
    if (
        transmission.what == Transmission.What.RESEARCH
        and Capture.objects.filter(
            exam_id=transmission.exam_id, media_purged_at__isnull=False
        ).exists()
        and not storage.exists(transmission.source)
    ):
        return "The research file was removed by the institution's retention policy."
    return ""


def _failed(
    transmission: Transmission, error: str, *, permanent: bool, receiver: bool = True
) -> str:
    outcome, fields = work.fail_or_give_up(
        transmission, clean_text(error, multiline=True), permanent=permanent
    )
    with transaction.atomic():
        transmission.save(update_fields=[*fields, "uid"])
        if not receiver:
            return outcome
        Destination.objects.filter(
            pk=transmission.destination_id, failing_since__isnull=True
        ).update(failing_since=timezone.now())
    return outcome


def resend(queryset) -> int:
    """Send these rows again now (a person pressed "resend"): sent ones too, since a
    DICOM receiver replaces an instance with the same UID. Rows a worker holds right now
    are left alone. How many."""
    now = timezone.now()
    not_held = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    with transaction.atomic():
        pks = list(queryset.filter(not_held).values_list("pk", flat=True))
        Transmission.objects.filter(pk__in=pks).update(
            state=Transmission.State.PENDING,
            attempts=0,
            next_attempt_at=now,
            claimed_until=None,
        )
        for pk in pks:
            registry.nudge_pk(Transmission, pk)
    return len(pks)
