"""Keyset ("seek") pagination: pages that never count the table and never shift.

A page is the ``size`` rows that come after (or before) the last row of the page the
person was on, in a total order whose last key is unique (``id``). So:

* no ``COUNT(*)`` and no ``OFFSET``: one query fetches ``size + 1`` rows, the extra row
  only says whether there is another page, and page 500 costs what page 1 costs when an
  index matches the order;
* exams arriving while someone pages through the worklist do not push rows onto the
  next page twice or hide them.

The cursor is the sort values of a boundary row, as URL-safe base64 JSON. It is not a
secret and needs no signature: a forged cursor only moves the page through rows the
queryset already allows. It comes from the address bar, so it is decoded as hostile
input: bounded in length before decoding, flat (no nesting, checked without recursion),
every value of the type its key needs and in a range the database can compare. Anything
else raises ``BadCursor``, which the views answer with a 400 page.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from operator import or_

from django.db import models
from django.db.models import Q

from portal import safejson
from portal.text import has_unstorable


@dataclass(frozen=True)
class SortKey:
    name: str  # a field or an annotation of the queryset; never NULL
    descending: bool
    field: models.Field  # turns a cursor value back into a Python value

    @property
    def order_by(self) -> str:
        return f"-{self.name}" if self.descending else self.name


@dataclass
class Page:
    rows: list
    next_cursor: str | None = None
    previous_cursor: str | None = None


def encode_cursor(row, keys: list[SortKey]) -> str:
    values = [keys_value(row, key) for key in keys]
    raw = json.dumps(values, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def keys_value(row, key: SortKey):
    value = getattr(row, key.name)
    return value.isoformat() if hasattr(value, "isoformat") else value


# A real cursor holds a few sort values (a date, an id, a patient's sort name of at most
# three 200-character names); these bounds leave room and keep the scan below short.
MAX_CURSOR_LENGTH = 8192
MAX_TEXT_LENGTH = 2000
INT_RANGE = range(-(2**63), 2**63)  # what every database's bigint can compare


class BadCursor(ValueError):
    """A page link's cursor that the portal did not make (or no longer understands)."""


def decode_cursor(cursor: str, keys: list[SortKey]) -> list:
    """The cursor's values as the keys' Python values; ``BadCursor`` says why not."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadCursor("The page link is too long.")
    try:
        raw = base64.b64decode(
            cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True
        ).decode("utf-8")
    except (ValueError, binascii.Error):
        raise BadCursor("The page link is not encoded as the portal encodes it.") from None
    try:
        # One level: a flat list of values, never nested, measured without recursion.
        values = safejson.loads(raw, max_depth=1)
    except safejson.RefusedJSON as e:
        raise BadCursor(f"The page link {e}.") from None
    if not isinstance(values, list) or len(values) != len(keys):
        raise BadCursor("The page link does not match the page's order.")
    return [_value(key, value) for key, value in zip(keys, values, strict=True)]


def _value(key: SortKey, value):
    """``value`` as ``key``'s field needs it, or ``BadCursor``."""
    field, checked = key.field, None
    if isinstance(field, models.DateTimeField):
        checked = _datetime(value)
    elif isinstance(field, models.IntegerField):  # AutoField and BigAutoField included
        checked = value if type(value) is int and value in INT_RANGE else None
    elif isinstance(field, models.UUIDField) and isinstance(value, str) and len(value) <= 40:
        checked = _uuid(value)
    elif isinstance(field, models.CharField | models.TextField) and isinstance(value, str):
        # PostgreSQL cannot compare text holding NUL or a lone surrogate.
        checked = value if len(value) <= MAX_TEXT_LENGTH and not has_unstorable(value) else None
    if checked is None:
        raise BadCursor("The page link holds a value of the wrong kind.")
    return checked


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _datetime(value) -> datetime | None:
    """An aware datetime (UTC) from the ISO text the portal writes; ``None`` otherwise."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            return None
        return moment.astimezone(UTC)  # near year 1 or 9999, an offset overflows here
    except (ValueError, OverflowError):
        return None


def beyond(keys: list[SortKey], values: list, *, backwards: bool) -> Q:
    """Rows strictly after ``values`` in the order of ``keys`` (before it if ``backwards``).

    (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ..., each ">" flipped for descending keys. The
    first key's inclusive bound is added on its own because a database can use that one
    as an index range, where it would not see through the OR.
    """
    clauses = []
    for i, key in enumerate(keys):
        lookup = "lt" if key.descending != backwards else "gt"
        clause = Q(**{f"{key.name}__{lookup}": values[i]})
        for earlier, value in zip(keys[:i], values[:i], strict=True):
            clause &= Q(**{earlier.name: value})
        clauses.append(clause)
    first = keys[0]
    bound = Q(**{f"{first.name}__{'lte' if first.descending != backwards else 'gte'}": values[0]})
    return bound & reduce(or_, clauses)


def paginate(queryset, keys: list[SortKey], *, size: int, after=None, before=None) -> Page:
    """One page of ``queryset`` in the order of ``keys`` (the last key must be unique).

    ``BadCursor`` if ``after`` or ``before`` is not a cursor this module made.
    """
    backwards = bool(before)
    values = None
    if before:
        values = decode_cursor(before, keys)
    elif after:
        values = decode_cursor(after, keys)
    if values is not None:
        queryset = queryset.filter(beyond(keys, values, backwards=backwards))
    order = [key.order_by for key in keys]
    if backwards:
        order = [o[1:] if o.startswith("-") else f"-{o}" for o in order]
    rows = list(queryset.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
        page = Page(rows, previous_cursor=encode_cursor(rows[0], keys) if more else None)
        page.next_cursor = encode_cursor(rows[-1], keys) if rows else None
        return page
    page = Page(rows, next_cursor=encode_cursor(rows[-1], keys) if more else None)
    if values is not None and rows:
        page.previous_cursor = encode_cursor(rows[0], keys)
    return page
