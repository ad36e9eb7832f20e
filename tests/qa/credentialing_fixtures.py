"""Credentialing test data: exams and first-read QA reviews made directly, and the
Northside trio with a QA lead and a plain clinician added.

At Northside: alice is the administrator, bob a reviewer, dana a clinician, lee a
reviewer who is a QA lead; charlie is Southside's administrator, a stranger here.
"""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.exams.models import Exam
from portal.qa.models import ExamTypeQA, QAReview
from portal.tenants.models import Membership
from portal.worksheets.models import ExamType
from tests.conftest import make_user


def exam_type(institution, code="lung") -> ExamType:
    return ExamType.objects.get(institution=institution, code=code)


def set_required(exam_type_row, required: int) -> None:
    ExamTypeQA.objects.update_or_create(
        exam_type=exam_type_row,
        defaults={"institution_id": exam_type_row.institution_id, "required_passed": required},
    )


def exam(institution, operator, exam_type_row, **fields) -> Exam:
    now = timezone.now()
    return Exam.objects.create(
        institution=institution,
        exam_uuid=uuid.uuid4(),
        operator=operator,
        exam_type=exam_type_row,
        status=Exam.Status.READY,
        first_submitted_at=now,
        last_submitted_at=now,
        **fields,
    )


def reviewed(
    institution,
    operator,
    exam_type_row,
    *,
    passed=None,
    scored_by=None,
    when=None,
    feedback="",
    read=1,
):
    """A first-read QA review of a new exam: pending when ``passed`` is None."""
    row = exam(institution, operator, exam_type_row)
    scored = passed is not None
    when = when or timezone.now()
    return QAReview.objects.create(
        institution=institution,
        exam=row,
        read=read,
        reason=QAReview.Reason.IN_TRAINING,
        operator=operator,
        exam_type=exam_type_row,
        state=QAReview.State.DONE if scored else QAReview.State.PENDING,
        due_at=when + datetime.timedelta(hours=72),
        image_quality=(4 if passed else 2) if scored else None,
        interpretation="agree" if scored else "",
        passed=passed,
        scored_at=when if scored else None,
        scored_by=scored_by if scored else None,
        feedback=feedback,
    )


@pytest.fixture
def people(trio, northside):
    alice, bob, charlie = trio
    dana = make_user("dana@example.org", "Dana Clinician")
    Membership.objects.create(user=dana, institution=northside, role=Membership.Role.CLINICIAN)
    lee = make_user("lee@example.org", "Lee Lead")
    Membership.objects.create(
        user=lee, institution=northside, role=Membership.Role.REVIEWER, is_qa_lead=True
    )
    return {"alice": alice, "bob": bob, "charlie": charlie, "dana": dana, "lee": lee}


@pytest.fixture
def signed_in(client, people):
    """``signed_in("alice")`` in her first institution; ``signed_in("alice", "southside")``."""

    def log_in(name, institution=None):
        client.force_login(people[name])
        if institution:
            client.post(reverse("switch-institution"), {"institution": institution})
        return client

    return log_in
