"""The worklist's words for a patient's age and an exam's wait."""

from __future__ import annotations

import datetime

from django import template
from django.utils import timezone

register = template.Library()


def _date(value) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value if isinstance(value, datetime.date) else None


@register.filter
def age_at(birth, moment) -> str:
    """The age on the day of ``moment``: "34 years"; "14 months" under two; "12 days"
    under a month. "" when the birth date is unknown or after the exam."""
    born, day = _date(birth), _date(moment)
    if born is None or day is None or born > day:
        return ""
    months = (day.year - born.year) * 12 + day.month - born.month - (day.day < born.day)
    if months >= 24:
        years = months // 12
        return f"{years} years"
    if months >= 1:
        return f"{months} month{'s' if months != 1 else ''}"
    days = (day - born).days
    return f"{days} day{'s' if days != 1 else ''}"


@register.filter
def waiting(since, now=None) -> str:
    """How long since ``since``, as people say it: "12 min", "3 h", "2 days"."""
    if not isinstance(since, datetime.datetime):
        return ""
    seconds = max(((now or timezone.now()) - since).total_seconds(), 0)
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"
