"""The recurring work, kept as django-q2 schedules (created or updated after migrate).

Apps register theirs in ``AppConfig.ready()`` with the task function and its period in
minutes (or the name of the setting that holds it).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from portal.work.queueing import task_path

_schedules: dict[str, tuple[Callable, int | str]] = {}
# Schedules an earlier release created under another name: removed, or they would run
# (and fail on a task that moved) next to their successors.
RETIRED = ["clarius: sweep due work"]


def register(name: str, task: Callable, minutes: int | str) -> None:
    _schedules[name] = (task, minutes)


def registered() -> dict[str, tuple[str, int]]:
    """name: (dotted task, minutes), the settings read now."""
    out = {}
    for name, (task, minutes) in _schedules.items():
        if isinstance(minutes, str):
            minutes = getattr(settings, minutes)
        out[name] = (task_path(task), minutes)
    return out


def ensure_schedules(**kwargs):
    from django_q.models import Schedule

    Schedule.objects.filter(name__in=RETIRED).delete()
    for name, (func, minutes) in registered().items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
