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
queryset already allows.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


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


def decode_cursor(cursor: str, keys: list[SortKey]) -> list | None:
    """The cursor's values, or ``None`` for anything malformed (then: the first page)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(keys):
            return None
        return [key.field.to_python(value) for key, value in zip(keys, values, strict=True)]
    except (ValueError, TypeError, ValidationError, binascii.Error):
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
    """One page of ``queryset`` in the order of ``keys`` (the last key must be unique)."""
    backwards = False
    values = None
    if before:
        values = decode_cursor(before, keys)
        backwards = values is not None
    if values is None and after:
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
