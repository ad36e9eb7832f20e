"""A small QA program with hand-countable figures, for the program dashboard and its API.

Northside runs in Europe/Berlin; its clocks go back on Sunday 25 October 2026, inside
the period (12 October – 1 November 2026: the weeks of 12, 19 and 26 October).
"""

from __future__ import annotations

import datetime
import uuid
from zoneinfo import ZoneInfo

from django.utils import timezone

from portal.exams.models import Exam
from portal.qa.models import Credential, QAReview, QASettings
from portal.worksheets.models import ExamType

BERLIN = ZoneInfo("Europe/Berlin")
START, END = "2026-10-12", "2026-11-01"
WEEKS = [datetime.date(2026, 10, 12), datetime.date(2026, 10, 19), datetime.date(2026, 10, 26)]


def local(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=BERLIN)


def exam(institution, operator, exam_type, submitted_at) -> Exam:
    return Exam.objects.create(
        institution=institution,
        exam_uuid=uuid.uuid4(),
        operator=operator,
        exam_type=exam_type,
        status=Exam.Status.READY,
        first_submitted_at=submitted_at,
        last_submitted_at=submitted_at,
    )


def review(exam_row, *, read=1, selected=None, scored=None, quality=None, passed=None, due=None):
    selected = selected or exam_row.first_submitted_at
    row = QAReview.objects.create(
        institution=exam_row.institution,
        exam=exam_row,
        read=read,
        reason=QAReview.Reason.IN_TRAINING if read == 1 else QAReview.Reason.DOUBLE_READ,
        operator=exam_row.operator,
        exam_type=exam_row.exam_type,
        state=QAReview.State.DONE if scored else QAReview.State.PENDING,
        due_at=due or selected + datetime.timedelta(hours=72),
        image_quality=quality,
        interpretation="agree" if scored else "",
        passed=passed,
        scored_at=scored,
    )
    QAReview.objects.filter(pk=row.pk).update(created_at=selected)
    return row


def build_program(northside, southside, alice, bob, charlie):
    """Northside's exams and QA rows (Alice, Bob and a trainee operate); one Southside
    exam, which Northside's figures must never count."""
    from portal.tenants.models import Membership
    from tests.conftest import make_user

    northside.time_zone = "Europe/Berlin"
    northside.save()
    QASettings.objects.update_or_create(institution=northside, defaults={"turnaround_hours": 72})
    trainee = make_user("trainee@example.org", "Tina Trainee")
    Membership.objects.create(user=trainee, institution=northside, role=Membership.Role.REVIEWER)
    lung, cardiac = ExamType.objects.filter(institution=northside).order_by("name")[:2]
    # Volume, across the clock change: by local week, not UTC week.
    e1 = exam(northside, alice, lung, local(2026, 10, 18, 23, 30))  # Sun, CEST: week 12 Oct
    e2 = exam(northside, alice, lung, local(2026, 10, 19, 0, 30))  # Mon 00:30 CEST = Sun UTC
    e3 = exam(northside, bob, cardiac, local(2026, 10, 25, 23, 30))  # Sun, CET: week 19 Oct
    e4 = exam(northside, trainee, lung, local(2026, 10, 26, 0, 30))  # Mon 00:30 CET = Sun UTC
    e5 = exam(northside, trainee, lung, local(2026, 10, 27, 9, 0))
    e6 = exam(northside, trainee, cardiac, local(2026, 10, 28, 9, 0))
    e7 = exam(northside, bob, None, local(2026, 10, 29, 9, 0))
    exam(northside, bob, lung, local(2026, 11, 2, 9, 0))  # after the period
    exam(northside, alice, lung, local(2026, 10, 11, 23, 0))  # before it
    # Turnaround: three first reads scored in the week of 26 October, 10 h, 20 h and 80 h.
    hour = datetime.timedelta(hours=1)
    t = local(2026, 10, 27, 10, 0)
    review(e4, selected=t, scored=t + 10 * hour, quality=2, passed=False)
    review(e5, selected=t, scored=t + 20 * hour, quality=4, passed=True)
    review(e6, selected=t, scored=t + 80 * hour, quality=5, passed=True)
    review(e5, read=2, selected=t, scored=t + 1 * hour, quality=1, passed=False)  # not counted
    # Backlog: three first reads pending, one past due; a pending second read not counted.
    now = timezone.now()
    review(e1, due=now - hour)
    review(e2, due=now + hour)
    review(e3, due=now + 2 * hour)
    review(e6, read=2, due=now - hour)
    # Credentialing: Alice by count and Bob by grant for the first type; the trainee has
    # reads of both types and no credential: in training for both. Alice has a read of
    # the first type too, but holds its credential.
    Credential.objects.create(
        institution=northside, user=alice, exam_type=lung, basis="count", since=local(2026, 10, 20)
    )
    Credential.objects.create(
        institution=northside, user=bob, exam_type=lung, basis="grant", since=local(2025, 1, 1)
    )
    # Southside: an exam and a credential Northside never counts.
    south_type = ExamType.objects.filter(institution=southside).first()
    other = exam(southside, charlie, south_type, local(2026, 10, 27, 9, 0))
    review(other, selected=t, scored=t + hour, quality=1, passed=False)
    Credential.objects.create(
        institution=southside, user=charlie, exam_type=south_type, basis="grant", since=t
    )
    return {
        "lung": lung,
        "cardiac": cardiac,
        "trainee": trainee,
        "exams": [e1, e2, e3, e4, e5, e6, e7],
    }


def lead(user, institution, *, role="reviewer"):
    """Make ``user`` a QA lead with ``role`` in ``institution``."""
    from portal.tenants.models import Membership

    Membership.objects.filter(user=user, institution=institution).update(role=role, is_qa_lead=True)
