"""The tamper-evident audit log: each institution's events form a hash chain.

Every ``AuditEvent`` is numbered in its institution's order of writing (``seq``: 1, 2,
3, ...) and carries ``hash = sha256(hash of the institution's previous event + the event's
fields)``; the first event follows a fixed genesis value. The institution's
``AuditChainHead`` holds the last number and hash. Writing an event locks the head row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions already let one
writer in at a time), so two events written at once never share a number or fork the
chain, and the event, its number and the head change in one transaction.

A row changed in the database afterwards (its action, detail, time, ...) no longer matches
its hash; a deleted row leaves a gap in the numbers; rows cut from the end no longer reach
the head. ``python manage.py verify_audit_chain`` walks the chains and reports each of
these with the rows' ids. The chain shows tampering by anyone who can write the database
but not the head; whoever can rewrite every later row and the head as well can hide it
(copying the heads elsewhere now and then, e.g. in a backup, closes that).

The hashed fields and their canonical form (``canonical``) are part of the stored data:
changing them makes every existing chain fail to verify.
"""

import hashlib
import json
import math
from datetime import UTC

from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from portal.text import storable

GENESIS = "0" * 64
# Rows per query when backfilling or verifying: memory stays bounded on any table size.
BATCH = 2000


class AuditLogIsAppendOnly(Exception):
    """An audit event may be written once, never changed or deleted."""


def storable_detail(detail):
    """``detail`` as the database will store and return it: NUL and lone surrogates
    removed (PostgreSQL refuses them in jsonb), non-finite numbers as text (not JSON),
    keys as strings and tuples as lists (what a JSON round trip gives)."""
    return json.loads(json.dumps(_finite(storable(detail if detail is not None else {}))))


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _numbers(value):
    # jsonb stores numbers as decimals: 1e20 or 2.0 may come back as an int; a whole float
    # is hashed as the int, on every database alike.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def canonical(
    *, id, institution_id, seq, user_id, action, object_type, object_id, ip_address, at, detail
):
    """The event's fields as one ASCII string: a JSON array in a fixed order, the time in
    UTC with microseconds, the detail with sorted keys and no whitespace."""
    return json.dumps(
        [
            str(id),
            int(institution_id),
            int(seq),
            None if user_id is None else int(user_id),
            str(action),
            str(object_type),
            str(object_id),
            None if not ip_address else str(ip_address),
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            _numbers(detail),
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=True,
    )


def chain_hash(previous, event):
    """The hash of ``event`` (an AuditEvent, or a historical model's row) after
    ``previous``."""
    text = canonical(
        id=event.id,
        institution_id=event.institution_id,
        seq=event.seq,
        user_id=event.user_id,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        ip_address=event.ip_address,
        at=event.at,
        detail=event.detail,
    )
    return hashlib.sha256((previous + text).encode("ascii")).hexdigest()


def locked_head(head_model, institution_id, using):
    """The institution's chain head, locked until the transaction ends (created the
    first time; a concurrent creation is not an error)."""
    heads = head_model._default_manager.db_manager(using)
    head = heads.select_for_update().filter(institution_id=institution_id).first()
    if head is None:
        heads.bulk_create(
            [head_model(institution_id=institution_id, seq=0, hash=GENESIS)],
            ignore_conflicts=True,
        )
        head = heads.select_for_update().get(institution_id=institution_id)
    return head


def insert_chained(event, head_model, insert, using):
    """Number, time and hash ``event`` and ``insert()`` it, in one transaction with the
    move of its institution's head (a ``head_model`` row).

    The head is read and moved in plain SQL: this runs for every page of the worklist,
    and the ORM's query building would cost more than the two statements themselves.
    """
    field = event._meta.get_field("ip_address")
    event.ip_address = field.get_prep_value(event.ip_address) or None
    event.detail = storable_detail(event.detail)
    connection = connections[using]
    table = connection.ops.quote_name(head_model._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    # No savepoint inside a caller's transaction, as Model.save() itself: an error here
    # spoils the caller's transaction, and the page costs two statements, not four.
    with transaction.atomic(using=using, savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute(
                # The table's name is the model's, never input.
                f"SELECT seq, hash FROM {table} WHERE institution_id = %s{lock}",  # noqa: S608
                [event.institution_id],
            )
            row = cursor.fetchone()
        if row is None:
            head = locked_head(head_model, event.institution_id, using)
            row = head.seq, head.hash
        event.seq = row[0] + 1
        # Stamped here, under the lock, so that time follows the numbering; the stored
        # value is this one (microseconds on PostgreSQL and SQLite alike).
        event.at = timezone.now()
        event.hash = chain_hash(row[1], event)
        insert()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET seq = %s, hash = %s WHERE institution_id = %s",  # noqa: S608
                [event.seq, event.hash, event.institution_id],
            )


def backfill(event_model, head_model, *, institution_ids=None, using="default", batch=None):
    """Chain the events that have no number yet (those written before the chain
    existed), per institution in the order (at, id), after the institution's head.
    Reads and writes ``batch`` rows (default ``BATCH``) at a time. Returns the number of
    events chained."""
    batch = batch or BATCH
    events = event_model._default_manager.db_manager(using)
    if institution_ids is None:
        institution_ids = (
            events.filter(seq__isnull=True)
            .order_by("institution_id")
            .values_list("institution_id", flat=True)
            .distinct()
        )
    done = 0
    for institution_id in list(institution_ids):
        after = Q()  # keyset: each batch starts past the last one, not at the table's start
        while True:
            with transaction.atomic(using=using):
                head = locked_head(head_model, institution_id, using)
                rows = list(
                    events.filter(after, institution_id=institution_id, seq__isnull=True)
                    .order_by("at", "id")
                    .only(
                        "id", "institution_id", "user_id", "action", "object_type",
                        "object_id", "ip_address", "at", "detail",
                    )[:batch]
                )  # fmt: skip
                if not rows:
                    break
                seq, previous = head.seq, head.hash
                for row in rows:
                    seq += 1
                    row.seq = seq
                    row.hash = previous = chain_hash(previous, row)
                events.bulk_update(rows, ["seq", "hash"])
                head_model._default_manager.db_manager(using).filter(pk=head.pk).update(
                    seq=seq, hash=previous
                )
                done += len(rows)
                last = rows[-1]
                after = Q(at__gt=last.at) | Q(at=last.at, id__gt=last.id)
    return done


class Walk:
    """One institution's chain, read in number order ``batch`` rows at a time.

    ``findings()`` yields each finding as a line of text as it is found (memory stays
    bounded whatever the chain's length or damage); ``counted`` is then the number of
    events read and ``found`` the number of findings.
    """

    FIELDS = (
        "id", "institution_id", "seq", "user_id", "action", "object_type", "object_id",
        "ip_address", "at", "detail", "hash",
    )  # fmt: skip

    def __init__(self, event_model, head_model, institution_id, *, using="default", batch=BATCH):
        self.events = event_model._default_manager.db_manager(using).filter(
            institution_id=institution_id
        )
        self.heads = head_model._default_manager.db_manager(using)
        self.institution_id = institution_id
        self.batch = batch
        self.counted = 0
        self.found = 0

    def findings(self):
        for finding in self._walk():
            self.found += 1
            yield finding

    def _walk(self):
        last_seq, last_id, previous = 0, None, GENESIS
        while True:
            rows = list(
                self.events.filter(seq__gt=last_seq)
                .order_by("seq")
                .only(*self.FIELDS)[: self.batch]
            )
            if not rows:
                break
            for row in rows:
                self.counted += 1
                if row.seq != last_seq + 1:
                    # The row after a gap cannot be checked against its missing predecessor;
                    # the chain goes on from its stored hash.
                    yield gap(last_seq, last_id, row)
                elif row.hash != chain_hash(previous, row):
                    yield f"changed: event {row.id} (number {row.seq}) does not match its hash"
                last_seq, last_id, previous = row.seq, row.id, row.hash
        unchained = self.events.filter(seq__isnull=True).order_by("at", "id")
        for event_id in unchained.values_list("id", flat=True).iterator(chunk_size=self.batch):
            self.counted += 1
            yield f"unchained: event {event_id} has no number (written outside the portal)"
        head = self.heads.filter(institution_id=self.institution_id).first()
        if head is None:
            if last_seq:
                yield f"head: no chain head, but events up to number {last_seq}"
        elif head.seq > last_seq:
            after = f"event {last_id} (number {last_seq})" if last_id else "none"
            yield (
                f"truncated: the head is at number {head.seq} but the last event is {after}: "
                f"{missing(last_seq + 1, head.seq)} missing from the end"
            )
        elif head.seq < last_seq:
            yield f"head: the head is at number {head.seq} but event {last_id} is number {last_seq}"
        elif head.hash != previous:
            yield (
                f"head: the head's hash does not match the last event {last_id} (number {last_seq})"
            )


def missing(first, last):
    return f"number {first}" if first == last else f"numbers {first} to {last}"


def gap(last_seq, last_id, row):
    before = f"after event {last_id} (number {last_seq})" if last_id else "at the start"
    return (
        f"gap: {missing(last_seq + 1, row.seq - 1)} missing (deleted) {before}, "
        f"before event {row.id} (number {row.seq})"
    )
