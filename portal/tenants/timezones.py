"""Times in the institution's zone: the one format every page, export and PDF uses.

Rows keep UTC; a request works in its institution's zone (the middleware activates it),
the worker names the zone explicitly (``in_zone_of``), the API stays UTC. A time shown
to a person always carries its zone's abbreviation ("2026-12-01 14:05 CET"), so a
reader in another zone, or a time near a clock change, is never ambiguous.
"""

from __future__ import annotations

import contextlib
import datetime
import zoneinfo
from functools import lru_cache

from django.conf import settings
from django.utils import timezone

# How a moment is written, by style: the default is to the minute.
FORMATS = {
    "minutes": "%Y-%m-%d %H:%M %Z",
    "seconds": "%Y-%m-%d %H:%M:%S %Z",
    "date": "%Y-%m-%d",
    "time": "%H:%M %Z",
}


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def default_zone() -> datetime.tzinfo:
    return _zone(settings.TIME_ZONE) or datetime.UTC


def zone_of(institution) -> datetime.tzinfo:
    """The institution's zone; the installation's when there is no institution, or its
    name is one this machine no longer knows (a zone database update), never an error."""
    name = getattr(institution, "time_zone", "") or ""
    return (_zone(name) if name else None) or default_zone()


def in_zone_of(institution):
    """``with in_zone_of(exam.institution):`` for code that runs outside a request."""
    if institution is None:
        return contextlib.nullcontext()
    return timezone.override(zone_of(institution))


def zone_names() -> list[str]:
    """The IANA names this machine knows, sorted, for the settings page's choices."""
    return sorted(name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC")


def local(value: datetime.datetime, zone: datetime.tzinfo | None = None) -> datetime.datetime:
    """``value`` (aware) in ``zone``, else in the current zone."""
    return timezone.localtime(value, zone)


def format_when(value, style: str = "minutes", zone: datetime.tzinfo | None = None) -> str:
    """``value`` as a person reads it, e.g. "2026-12-01 14:05 CET"; "" for no value."""
    if not value:
        return ""
    fmt = FORMATS.get(style, FORMATS["minutes"])
    if not isinstance(value, datetime.datetime):  # a date has no zone to show
        return value.strftime(FORMATS["date"])
    if timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return local(value, zone).strftime(fmt)


def iso_local(
    value: datetime.datetime, zone: datetime.tzinfo | None = None, timespec: str = "seconds"
) -> str:
    """ISO 8601 with the zone's offset, e.g. 2026-12-01T15:05:00+01:00 (exports, the
    ``datetime`` attribute of ``<time>``); ``timespec`` as ``datetime.isoformat``'s."""
    if not value:
        return ""
    if not isinstance(value, datetime.datetime):
        return value.isoformat()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return local(value, zone).isoformat(timespec=timespec)
