"""The recurring work, kept as django-q2 schedules (created or updated after migrate)."""

from django.conf import settings

SCHEDULES = {
    # name: (task, minutes)
    "clarius: sweep due work": ("integrations.clarius.tasks.sweep", 1),
    "clarius: catch up on missed notifications": (
        "integrations.clarius.tasks.poll",
        "CLARIUS_POLL_MINUTES",
    ),
    "clarius: reconcile links": ("integrations.clarius.tasks.reconcile", 60),
}


def ensure_schedules(**kwargs):
    from django_q.models import Schedule

    for name, (func, minutes) in SCHEDULES.items():
        if isinstance(minutes, str):
            minutes = getattr(settings, minutes)
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
