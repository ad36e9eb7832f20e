"""Field values as JSON and back, exactly: times keep their microseconds (the audit
chain's hashes cover them), numbers of rows stay numbers, JSON fields stay as stored."""

from __future__ import annotations

import base64
import datetime
import decimal
import uuid

from django.db import models


def encode(f: models.Field, value):
    if value is None or isinstance(f, models.JSONField):
        return value
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def decode(f: models.Field, value):
    if value is None or isinstance(f, models.JSONField):
        return value
    if isinstance(f, models.BinaryField):
        return base64.b64decode(value)
    return f.to_python(value)


def row_of(fields, values: dict) -> dict:
    """One row (a ``values()`` dict) as JSON-ready, keyed by column (``exam_id``)."""
    return {f.attname: encode(f, values[f.attname]) for f in fields}
