"""Recording an exam notification: the one rule, whichever way it reached the portal.

A notification (the webhook's call, or an exam the catch-up found that the portal has
never seen) becomes one ``NotificationReceipt`` per ``request_uuid``; the database's
unique ``request_uuid`` decides which copy counts when two arrive at the same moment,
and the first one wins. The receipt is *pending* (due now, its fetch queued after the
commit) when the customer token has a confirmed link, else *unassigned*: it waits for
the link, and ``assign_waiting`` hands it over when Clarius confirms one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal import work
from portal.work.registry import nudge, nudge_pk

logger = logging.getLogger(__name__)

State = NotificationReceipt.State


def confirmed_links(tokens: Iterable[str]) -> dict[str, int]:
    """``{token: link id}`` of the tokens that have a confirmed link: one query.

    Give only checked tokens: a NUL in a query parameter fails on PostgreSQL.
    """
    return dict(
        ClariusLink.objects.filter(
            token__in=set(tokens), state=ClariusLink.State.CONFIRMED
        ).values_list("token", "pk")
    )


def new_receipt(
    fields: Mapping[str, Any], link_id: int | None, **extra: Any
) -> NotificationReceipt:
    """An unsaved receipt: pending and due now with a confirmed link, else unassigned."""
    receipt = NotificationReceipt(**fields, **extra, link_id=link_id)
    if link_id:
        receipt.state = State.PENDING
        work.schedule_now(receipt)
    else:
        receipt.state = State.UNASSIGNED
    return receipt


def record_notification(fields: Mapping[str, Any], **extra: Any) -> NotificationReceipt | None:
    """Record one notification (``fields``: the five of the webhook, typed and checked;
    ``extra``: the call as received). ``None`` when its ``request_uuid`` was recorded
    before: the first copy is what counts, and nothing changes.

    One look-up and the insert in its savepoint: the webhook answers fast.
    """
    link_id = confirmed_links([fields["customer_id"]]).get(fields["customer_id"])
    receipt = new_receipt(fields, link_id, **extra)
    try:
        with transaction.atomic():
            receipt.save()
            if link_id:
                nudge(receipt)
    except IntegrityError:
        return None
    return receipt


def record_notifications(
    notifications: list[Mapping[str, Any]], **extra: Any
) -> list[NotificationReceipt]:
    """Record many notifications at once (one query for the links, one insert, one query
    for the fetches to queue); those already recorded are left as they are. Returns the
    receipts built, recorded or not (each one's ``state`` says what it would be)."""
    links = confirmed_links(n["customer_id"] for n in notifications)
    receipts = [new_receipt(n, links.get(n["customer_id"]), **extra) for n in notifications]
    with transaction.atomic():
        # A webhook may deliver one of these at the same moment: the first row wins.
        NotificationReceipt.objects.bulk_create(receipts, ignore_conflicts=True)
        due = NotificationReceipt.objects.filter(
            request_uuid__in=[r.request_uuid for r in receipts if r.link_id],
            state=State.PENDING,
        ).values_list("pk", flat=True)
        for pk in due:
            nudge_pk(NotificationReceipt, pk)
    return receipts


def assign_waiting(link: ClariusLink) -> int:
    """Hand the notifications waiting for ``link``'s token to it, due now, their fetches
    queued after the commit. Call it in the transaction that confirms the link. Returns
    how many were assigned."""
    with transaction.atomic(savepoint=False):
        waiting = list(
            NotificationReceipt.objects.filter(
                customer_id=link.token, state=State.UNASSIGNED
            ).values_list("pk", flat=True)
        )
        NotificationReceipt.objects.filter(pk__in=waiting).update(
            link=link, state=State.PENDING, next_attempt_at=timezone.now(), claimed_until=None
        )
        for pk in waiting:
            nudge_pk(NotificationReceipt, pk)
    return len(waiting)


def assign_stranded() -> int:
    """Hand out notifications left *unassigned* although their token's link is confirmed.

    A notification recorded in the very moment its link is confirmed can miss both: the
    webhook still saw the link pending, and the confirmation's ``assign_waiting`` did
    not see the receipt yet (it was not committed). Nothing else would ever pick it up,
    so the catch-up schedule runs this; the exam arrives minutes late, never lost.
    """
    tokens = NotificationReceipt.objects.filter(state=State.UNASSIGNED).values("customer_id")
    assigned = 0
    for link in ClariusLink.objects.filter(state=ClariusLink.State.CONFIRMED, token__in=tokens):
        assigned += assign_waiting(link)
    if assigned:
        logger.warning("%d notification(s) waiting for a confirmed link were assigned", assigned)
    return assigned
