"""Exams for the staff pages' tests, without media files (``captures=0``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.exams.models import Exam, Patient
from tests.factories import make_exam


def exam(institution, operator=None, *, submitted=None, **fields):
    """An exam submitted ``submitted`` (default now), updated with ``fields``."""
    patient_name = fields.pop("patient_name", "Pat Example")
    made = make_exam(institution, operator, patient_name=patient_name, captures=0)
    submitted = submitted or timezone.now()
    fields.setdefault("first_submitted_at", submitted)
    fields.setdefault("last_submitted_at", submitted)
    Exam.objects.filter(pk=made.pk).update(**fields)
    made.refresh_from_db()
    return made


def animal(made, name, kind="Dog", owner="Olive Owner"):
    Patient.objects.filter(exam=made).update(
        first_name="", last_name="", animal_name=name, animal_type=kind, owner_name=owner
    )
    return made


@pytest.fixture
def ago():
    """``ago(days=2)``: an aware datetime that long before now."""
    now = timezone.now()
    return lambda **delta: now - timedelta(**delta)


@pytest.fixture
def today_at():
    """``today_at(0.5)``: a moment earlier today (a fraction of the time since midnight).

    Charts count by local date; "ten minutes ago" would be yesterday just after midnight.
    """
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return lambda fraction, days=0: midnight + (now - midnight) * fraction - timedelta(days=days)


def in_southside(client):
    """Make Southside alice's current institution (she is a clinician there)."""
    from django.urls import reverse

    client.post(reverse("switch-institution"), {"institution": "southside"})
