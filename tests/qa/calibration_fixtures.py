"""Fixtures for the calibration, outcome and accuracy tests (imported by their modules)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from portal.qa.models import Outcome, QAReview
from portal.reports.models import Findings
from portal.tenants.models import Membership
from portal.worksheets.models import ExamType
from tests.conftest import make_user
from tests.factories import make_exam


def member(institution, email, name, role=Membership.Role.REVIEWER, **flags):
    user = make_user(email, name)
    Membership.objects.create(user=user, institution=institution, role=role, **flags)
    return user


@pytest.fixture
def lead(northside):
    return member(northside, "lena@example.org", "Lena Lead", is_qa_lead=True)


@pytest.fixture
def qa_reviewers(northside):
    return [
        member(northside, f"rev{i}@example.org", f"Reviewer {name}", is_qa_reviewer=True)
        for i, name in enumerate(["Ann", "Ben", "Cat"])
    ]


@pytest.fixture
def dave(northside):
    """A clinician (operator) of Northside."""
    return member(northside, "dave@example.org", "Dave Operator", Membership.Role.CLINICIAN)


@pytest.fixture
def erin(northside):
    """Another clinician of Northside."""
    return member(northside, "erin@example.org", "Erin Operator", Membership.Role.CLINICIAN)


def exam_type(institution, code="fast") -> ExamType:
    return ExamType.objects.get(institution=institution, code=code)


def scored(exam, read, reviewer, quality, interpretation, passed, *, at=None, exam_type_=None):
    at = at or timezone.now()
    return QAReview.objects.create(
        institution=exam.institution,
        exam=exam,
        read=read,
        reason=QAReview.Reason.SAMPLED if read == 1 else QAReview.Reason.DOUBLE_READ,
        operator=exam.operator,
        exam_type=exam_type_ or exam.exam_type,
        state=QAReview.State.DONE,
        assignee=reviewer,
        due_at=at + datetime.timedelta(days=3),
        image_quality=quality,
        interpretation=interpretation,
        passed=passed,
        scored_by=reviewer,
        scored_at=at,
    )


def double_read(institution, first, second, a, b, *, kind=None, at=None, operator=None):
    """An exam with both reads done: ``a``/``b`` are (quality, interpretation, passed)."""
    kind = kind or exam_type(institution)
    exam = make_exam(institution, operator, captures=0, exam_type=kind)
    scored(exam, 1, first, *a, at=at)
    scored(exam, 2, second, *b, at=at)
    return exam


def signed_exam(institution, operator, answers, *, code="fast", signed_at=None):
    kind = exam_type(institution, code)
    exam = make_exam(institution, operator, captures=0, exam_type=kind)
    signed_at = signed_at or timezone.now()
    Findings.objects.create(
        institution=institution,
        exam=exam,
        template=kind.current_template(),
        answers=answers,
        signed_at=signed_at,
    )
    exam.signed_at = signed_at
    exam.review_state = exam.ReviewState.SIGNED
    exam.save(update_fields=["signed_at", "review_state"])
    return exam


def outcome(exam, results, source="CT abdomen", by=None):
    return Outcome.objects.create(
        institution=exam.institution,
        exam=exam,
        source=source,
        results=results,
        recorded_by=by,
        recorded_at=timezone.now(),
    )
