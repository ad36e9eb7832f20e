"""Showing outside text on pages: names isolated, controls gone, sizes bounded.

Names and identifiers come from Clarius (patients, operators' accounts) or from people
typing them; cleaning at ingestion does not cover rows stored before it or written by
another path, so pages clean again here. ``<bdi>`` isolates each value's direction, so a
right-to-left name cannot reorder the text around it; the bidi override characters that
could reorder the name itself are removed by ``clean_text``. Everything is escaped:
``format_html`` escapes its arguments, nothing unescaped is marked safe.

Unknown patient fields (``Patient.extra``) are shown labelled by
``portal.exams.labels.field_label`` and capped: a few dozen fields, each
value cut short with the rest behind a "Show all" that is itself capped.
"""

import datetime
import json
from dataclasses import dataclass

from django import template
from django.utils.html import format_html

from portal.exams.labels import field_label
from portal.tenants.timezones import format_when, iso_local
from portal.text import clean_text

register = template.Library()

# A name longer than this is cut (the model columns allow 200; the page needs less).
NAME_LENGTH = 200
# Unknown patient fields: how many, how long a label, the short value, the "show all".
EXTRA_FIELDS = 20
EXTRA_LABEL_LENGTH = 60
EXTRA_SHORT_LENGTH = 200
EXTRA_FULL_LENGTH = 1000


@register.filter
def plain(value, max_length=NAME_LENGTH):
    """``value`` as one clean line of text, for places where markup cannot go (titles,
    attributes, CSV cells)."""
    return clean_text(value, max_length=max_length)


@register.filter
def isolated(value, fallback=""):
    """``value`` cleaned and wrapped in ``<bdi>``; ``fallback`` (plain) when it is empty."""
    text = clean_text(value, max_length=NAME_LENGTH).strip()
    if not text:
        return fallback
    return format_html("<bdi>{}</bdi>", text)


@dataclass(frozen=True)
class ExtraField:
    label: str
    short: str
    full: str  # empty when ``short`` already holds the whole value


@dataclass(frozen=True)
class ExtraFields:
    shown: list
    more: int


def _as_text(value) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(_cleaned(value), ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return "(not shown)"


def _cleaned(value):
    """A JSON value with controls removed from its strings first: json.dumps would
    otherwise show a NUL as the six characters \\u0000."""
    if isinstance(value, str):
        return clean_text(value, multiline=True)
    if isinstance(value, dict):
        return {_cleaned(str(k)): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(v) for v in value]
    return value


@register.simple_tag
def extra_fields(extra) -> ExtraFields:
    """The unknown patient fields to show: at most ``EXTRA_FIELDS``, each cleaned and
    capped, with how many more there are."""
    if not extra:
        return ExtraFields([], 0)
    items = list(extra.items()) if isinstance(extra, dict) else [("Other", extra)]
    shown = []
    for key, value in items[:EXTRA_FIELDS]:
        text = clean_text(_as_text(value), max_length=EXTRA_FULL_LENGTH)
        short = clean_text(text, max_length=EXTRA_SHORT_LENGTH)
        # The key as people read it ("weight_kg" → "Weight (kg)"), one rule everywhere.
        label = field_label(clean_text(key, max_length=EXTRA_LABEL_LENGTH))
        shown.append(
            ExtraField(
                label=label,
                short=short,
                full=text if short != text else "",
            )
        )
    return ExtraFields(shown, max(len(items) - EXTRA_FIELDS, 0))


@register.filter
def label(key) -> str:
    """A data key as people read it: ``{{ key|label }}`` ("weight_kg" → "Weight (kg)")."""
    return field_label(key)


@register.filter
def when(value, style="minutes"):
    """A moment as ``<time>``, in the current (the institution's) zone with its
    abbreviation: ``{{ exam.last_submitted_at|when }}`` → 2026-12-01 14:05 CET.

    ``style`` is "minutes" (the default), "seconds", "date" or "time"; no value is "".
    The format lives in ``portal.tenants.timezones``, shared with the PDF and exports.
    """
    if not value:
        return ""
    if not isinstance(value, datetime.date):  # e.g. a vendor's time we only have as text
        return value
    return format_html('<time datetime="{}">{}</time>', iso_local(value), format_when(value, style))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@register.filter
def duration_words(value) -> str:
    """A duration as people say it: a ``timedelta`` or ISO 8601 text ("PT15M") →
    "15 minutes", "2 hours and 5 minutes", "3 days and 4 hours" ("" if not one).

    At most two units, the larger first; a day or more leaves out the minutes.
    """
    from django.utils.dateparse import parse_duration

    if isinstance(value, datetime.timedelta):
        duration = value
    else:
        text = str(value or "").strip()
        duration = parse_duration(text) if text else None
    if duration is None:
        return ""
    minutes = max(round(duration.total_seconds() / 60), 1)
    if minutes >= 24 * 60:
        days, hours = divmod(round(minutes / 60), 24)
        return " and ".join([_plural(days, "day")] + ([_plural(hours, "hour")] if hours else []))
    hours, minutes = divmod(minutes, 60)
    parts = [_plural(hours, "hour")] if hours else []
    if minutes:
        parts.append(_plural(minutes, "minute"))
    return " and ".join(parts)
