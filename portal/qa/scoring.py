"""Scoring a QA review: who may, what is recorded, and what follows.

A QA reviewer (or lead) with a reviewing role scores a pending review, never one of an
exam they performed, and never both reads of one exam (the second read is blind). The
first read's score is the clinician's feedback and counts toward credentialing: when it
brings the operator to the exam type's threshold, the credential is written in the same
transaction, and the privileges gate lifts from their next exam on.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal.qa import notify, rubric
from portal.qa.models import QAReview
from portal.qa.selection import qa_reviewers
from portal.text import storable

NOTE_LIMIT = 5000


class QARefused(Exception):
    """A QA step refused; the message says why. ``conflict``: the review's state refuses
    it (already scored), not what was sent."""

    def __init__(self, message: str, *, field: str | None = None, conflict: bool = False):
        super().__init__(message)
        self.field = field
        self.conflict = conflict


def may_score(review: QAReview, user) -> str | None:
    """Why ``user`` may not score ``review`` (None: they may)."""
    if not qa_reviewers(review.institution_id).filter(user=user).exists():
        return "Only QA reviewers and QA leads score QA reviews."
    if review.operator_id == user.pk or review.exam.operator_id == user.pk:
        return "Nobody QA-reviews their own exam."
    other = (
        QAReview.objects.filter(exam_id=review.exam_id)
        .exclude(pk=review.pk)
        .filter(scored_by=user)
        .exists()
    )
    if other or (review.read == QAReview.SECOND_READ and review_assigned_elsewhere(review, user)):
        return "The second read of an exam is by another QA reviewer, blind to the first."
    return None


def review_assigned_elsewhere(review: QAReview, user) -> bool:
    """``user`` holds the other read of the same exam (scored or not)."""
    return (
        QAReview.objects.filter(exam_id=review.exam_id, assignee=user)
        .exclude(pk=review.pk)
        .exists()
    )


def score(
    review: QAReview,
    user,
    *,
    image_quality,
    interpretation: str,
    interpretation_note: str = "",
    answers: dict | None = None,
    feedback: str = "",
    now=None,
) -> QAReview:
    """Record the score; returns the review. Raises ``QARefused``."""
    quality = _quality(image_quality)
    if interpretation not in rubric.INTERPRETATION_LABELS:
        raise QARefused("Choose whether you agree with the interpretation.", field="interpretation")
    if interpretation != rubric.AGREE and not (interpretation_note or "").strip():
        raise QARefused(
            "Say what the interpretation missed or got wrong.", field="interpretation_note"
        )
    for name, text in (("interpretation_note", interpretation_note), ("feedback", feedback)):
        if len(text or "") > NOTE_LIMIT:
            raise QARefused(f"At most {NOTE_LIMIT} characters.", field=name)
    with transaction.atomic():
        current = QAReview.objects.select_for_update().select_related("exam").get(pk=review.pk)
        if current.is_done:
            raise QARefused("This QA review is scored already.", conflict=True)
        reason = may_score(current, user)
        if reason:
            raise QARefused(reason)
        now = now or timezone.now()
        current.image_quality = quality
        current.interpretation = interpretation
        current.interpretation_note = storable(interpretation_note or "")
        current.answers = answers or {}
        current.feedback = storable(feedback or "")
        current.passed = rubric.passes(quality, interpretation)
        current.state = QAReview.State.DONE
        current.scored_by, current.scored_at = user, now
        if current.assignee_id is None:
            current.assignee, current.assigned_at = user, now
        current.save()
        notify.feedback(current)  # the operator, of the first read only
        if current.read == QAReview.FIRST_READ and current.passed:
            from portal.qa.credentialing import record_if_reached

            record_if_reached(current, now)
        return current


def _quality(value) -> int:
    try:
        quality = int(value)
    except (TypeError, ValueError):
        quality = 0
    if not 1 <= quality <= 5:
        raise QARefused("Score the image quality from 1 to 5.", field="image_quality")
    return quality
