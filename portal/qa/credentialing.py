"""Credentialing: QA-passed exams counted toward each operator's privileges.

Only first reads count (a calibration second read is about the reviewer, not the
operator). An operator is credentialed for an exam type by count the moment a passed
review brings them to the threshold (``ExamTypeQA.required_passed``); the ``Credential``
row keeps that date. An administrator may grant one by hand, with a note.
"""

from __future__ import annotations

from portal.qa.models import Credential, QAReview
from portal.qa.program import exam_type_qa


def passed_count(institution_id, operator_id, exam_type_id) -> int:
    return QAReview.objects.filter(
        institution_id=institution_id,
        operator_id=operator_id,
        exam_type_id=exam_type_id,
        read=QAReview.FIRST_READ,
        state=QAReview.State.DONE,
        passed=True,
    ).count()


def record_if_reached(review: QAReview, now) -> Credential | None:
    """Inside the scoring transaction: write the credential when ``review`` reached the
    threshold (None when it did not, or one exists already)."""
    if review.operator_id is None or review.exam_type_id is None:
        return None
    existing = Credential.objects.filter(
        institution_id=review.institution_id,
        user_id=review.operator_id,
        exam_type_id=review.exam_type_id,
    ).exists()
    if existing:
        return None
    required = exam_type_qa(review.exam_type).required_passed
    if passed_count(review.institution_id, review.operator_id, review.exam_type_id) < required:
        return None
    credential, _ = Credential.objects.get_or_create(
        institution_id=review.institution_id,
        user_id=review.operator_id,
        exam_type_id=review.exam_type_id,
        defaults={"basis": Credential.Basis.COUNT, "since": now},
    )
    return credential
