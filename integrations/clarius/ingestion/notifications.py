"""Recording an exam notification: the one rule, whichever way it reached the portal.

A notification (the webhook's call, or an exam the catch-up found that the portal has
never seen) becomes one ``NotificationReceipt`` per ``request_uuid``; the database's
unique ``request_uuid`` decides which copy counts when two arrive at the same moment,
and the first one wins. The receipt is *pending* (due now: the receipt itself is the
queue entry the workers claim) when the customer token has a confirmed link, else
*unassigned*: it waits for the link, and ``assign_waiting`` hands it over when Clarius
confirms one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal import work
from portal.work import wake
from portal.work.registry import nudge, nudge_pk

logger = logging.getLogger(__name__)

State = NotificationReceipt.State
# The bell the webhook rings once its answer is sent (``portal.work.wake``, Redis only);
# the receipt watches (``receipts``) wait on it.
BELL = "clarius-receipts"


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

    One statement, committed by itself: the webhook answers fast. The receipt is its own
    queue entry (pending and due now); nothing is queued here. The caller nudges the
    worker once the answer is sent (``nudge_fetch``).
    """
    receipt = NotificationReceipt(**fields, **extra, state=State.UNASSIGNED)
    return receipt if insert_receipt(receipt) else None


def insert_receipt(receipt: NotificationReceipt) -> bool:
    """INSERT ``receipt`` with its link looked up in the same statement (the rule of
    ``new_receipt``: pending and due now with a confirmed link, else unassigned). False,
    and nothing written, if its ``request_uuid`` is recorded already.

    Written by hand because it is the webhook's whole cost: the ORM would take a look-up
    and the insert (two round trips), and a savepoint around the insert inside a
    transaction; ``ON CONFLICT DO NOTHING`` needs neither, on PostgreSQL and SQLite.
    """
    qn = connection.ops.quote_name
    meta, link_meta = NotificationReceipt._meta, ClariusLink._meta
    computed = ("link", "state", "next_attempt_at")
    columns, values, params = [], [], []
    for field in meta.concrete_fields:
        if field.primary_key or field.name in computed:
            continue
        columns.append(qn(field.column))
        values.append("%s")
        params.append(field.get_db_prep_save(field.pre_save(receipt, add=True), connection))
    now = timezone.now()
    due = meta.get_field("next_attempt_at").get_db_prep_save(now, connection)
    # The confirmed link, looked up once (a derived table of one row): its id, the state
    # and the due time follow from it.
    columns += [qn(meta.get_field(name).column) for name in computed]
    values += [
        "found.link",
        "CASE WHEN found.link IS NULL THEN %s ELSE %s END",
        "CASE WHEN found.link IS NOT NULL THEN %s END",
    ]
    params += [State.UNASSIGNED, State.PENDING, due]
    # Table and column names come from the models, quoted; every value is a parameter.
    # ``WHERE true`` keeps SQLite from reading the upsert's ON as a join's.
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM (SELECT ("
        f"SELECT {qn(link_meta.pk.column)} FROM {qn(link_meta.db_table)} "
        f"WHERE {qn(link_meta.get_field('token').column)} = %s "
        f"AND {qn(link_meta.get_field('state').column)} = %s) AS link) AS found WHERE true "
        f"ON CONFLICT ({qn(meta.get_field('request_uuid').column)}) DO NOTHING "
        f"RETURNING {qn(meta.pk.column)}, {qn(meta.get_field('link').column)}"
    )
    params += [receipt.customer_id, ClariusLink.State.CONFIRMED]
    row = _execute_returning(sql, params)
    if row is None:
        return False
    receipt.pk, receipt.link_id = row
    if receipt.link_id:
        receipt.state = State.PENDING
        receipt.next_attempt_at, receipt.claimed_until = now, None
    receipt._state.adding, receipt._state.db = False, connection.alias
    return True


def _execute_returning(sql: str, params: list) -> tuple | None:
    """Run the webhook's one statement and return its row, without the health check.

    Before a request's first query Django checks a reused connection with a round trip
    of its own (``CONN_HEALTH_CHECKS``): for the webhook that is a third of its time.
    Outside a transaction the INSERT goes first instead; should the connection have
    died while idle (a database restart), it is opened again and the INSERT sent once
    more, which ``ON CONFLICT DO NOTHING`` makes harmless even if the first one landed.
    """
    reused = connection.connection is not None and not connection.in_atomic_block
    if reused:
        connection.health_check_done = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    except (OperationalError, InterfaceError):
        if not reused:
            raise
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def nudge_fetch(receipt: NotificationReceipt) -> None:
    """Tell the workers a pending receipt is due, for when the answer is already sent.

    With Redis this rings the receipt watches' bell (one Redis command, sent by a
    thread of this process; nothing is queued): an idle watch wakes and fetches it at
    once. In sync mode (tests) the fetch runs here. With the ORM broker nothing is done:
    a task row would cost the webhook a commit, and the watches find the receipt itself
    within ``PORTAL_RECEIPT_POLL_MS``. Should the ring be lost, the watches and the
    sweeper still find the receipt: it is the queue entry.
    """
    if receipt.state != State.PENDING:
        return
    if wake.available():
        wake.ring_soon(BELL)
        return
    q = settings.Q_CLUSTER
    if q.get("orm") and not q.get("sync"):
        return
    nudge(receipt)


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
