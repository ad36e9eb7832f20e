"""Which exams are QA-reviewed, and by whom: the institution's rules in one place.

An exam is selected when its findings are first signed (the read QA judges exists then):
- every exam of a trainee, and of an operator not yet credentialed for its exam type;
- a share (``sample_percent``) of everyone else's, at random;
- any exam a reviewer flags, whenever they flag it.
A share (``double_read_percent``) of the selected exams also gets a blinded second read
by another QA reviewer, for calibration. Both draws hash the exam's UUID: uniformly
random across exams, yet the same answer every time for one exam, so a re-run or a
retried transaction never changes what was selected.

Assignment: round-robin among the institution's QA reviewers (the one assigned least
recently first), never to the exam's operator, its signer, or the other reader of the
same exam; or left to a QA lead when the institution assigns by hand.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db.models import Max, Q
from django.utils import timezone

from portal.qa import notify
from portal.qa.models import QAReview, QASettings
from portal.qa.privileges import is_credentialed, is_trainee
from portal.qa.program import settings_for
from portal.tenants.models import Membership
from portal.tenants.roles import REVIEWING_ROLES


def fraction(exam_uuid, salt: str) -> float:
    """A number in [0, 1) fixed for the exam and the draw (``salt``)."""
    digest = hashlib.sha256(f"{salt}:{exam_uuid}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def drawn(exam_uuid, salt: str, percent: int) -> bool:
    return fraction(exam_uuid, salt) * 100 < percent


def reason_for(exam, settings: QASettings) -> str | None:
    """Why the exam needs QA at signing (None: it does not)."""
    operator_id = exam.operator_id
    if operator_id is None:
        # Nobody to judge or credit: an exam of an unlinked account is QA'd when flagged.
        return None
    if is_trainee(operator_id, exam.institution_id):
        return QAReview.Reason.TRAINEE
    if exam.exam_type_id and not is_credentialed(
        operator_id, exam.institution_id, exam.exam_type_id
    ):
        return QAReview.Reason.IN_TRAINING
    if drawn(exam.exam_uuid, "sample", settings.sample_percent):
        return QAReview.Reason.SAMPLED
    return None


def select_on_signing(exam, signer, now=None) -> list[QAReview]:
    """Called inside the transaction that first signs ``exam``'s findings."""
    settings = settings_for(exam.institution_id)
    if not settings.is_active:
        return []
    reason = reason_for(exam, settings)
    if reason is None or QAReview.objects.filter(exam=exam).exists():
        return []
    return _select(exam, reason, settings, signer_id=getattr(signer, "pk", None), now=now)


def flag(exam, user, note: str = "", now=None) -> QAReview:
    """A reviewer flags ``exam`` for QA; an exam already in QA keeps its review (the note
    is added to it)."""
    existing = QAReview.objects.filter(exam=exam, read=QAReview.FIRST_READ).first()
    if existing is not None:
        if note and not existing.flag_note:
            existing.flag_note, existing.flagged_by = note, user
            existing.save(update_fields=["flag_note", "flagged_by"])
        return existing
    settings = settings_for(exam.institution_id)
    signer_id = getattr(getattr(exam, "findings", None), "signed_by_id", None)
    first, *_ = _select(
        exam,
        QAReview.Reason.FLAGGED,
        settings,
        signer_id=signer_id,
        now=now,
        flagged_by=user,
        flag_note=note,
    )
    return first


def _select(exam, reason, settings, *, signer_id, now=None, **extra) -> list[QAReview]:
    now = now or timezone.now()
    due = now + timedelta(hours=settings.turnaround_hours)
    common = {
        "institution_id": exam.institution_id,
        "exam": exam,
        "operator_id": exam.operator_id,
        "exam_type_id": exam.exam_type_id,
        "due_at": due,
    }
    exclude = {exam.operator_id, signer_id} - {None}
    first = QAReview(read=QAReview.FIRST_READ, reason=reason, **common, **extra)
    _assign(first, settings, exclude, now)
    first.save()
    notify.assigned(first)
    made = [first]
    if drawn(exam.exam_uuid, "double", settings.double_read_percent):
        second = QAReview(read=QAReview.SECOND_READ, reason=QAReview.Reason.DOUBLE_READ, **common)
        _assign(second, settings, exclude | {first.assignee_id} - {None}, now)
        second.save()
        notify.assigned(second)
        made.append(second)
    return made


def _assign(review: QAReview, settings, exclude: set, now) -> None:
    if settings.assignment != QASettings.Assignment.ROUND_ROBIN:
        return
    user_id = next_reviewer(review.institution_id, exclude)
    if user_id is not None:
        review.assignee_id, review.assigned_at = user_id, now


def qa_reviewers(institution_id):
    """Members who may score QA: QA reviewers and leads with a reviewing role."""
    return Membership.objects.filter(
        Q(is_qa_reviewer=True) | Q(is_qa_lead=True),
        institution_id=institution_id,
        role__in=REVIEWING_ROLES,
    )


def next_reviewer(institution_id, exclude=()) -> int | None:
    """The QA reviewer assigned least recently (never assigned: first), by user id on
    ties; ``None`` when nobody but the excluded can take it."""
    candidates = list(
        Membership.objects.filter(
            institution_id=institution_id, role__in=REVIEWING_ROLES, is_qa_reviewer=True
        )
        .exclude(user_id__in=[u for u in exclude if u is not None])
        .values_list("user_id", flat=True)
    )
    if not candidates:
        return None
    last = dict(
        QAReview.objects.filter(institution_id=institution_id, assignee_id__in=candidates)
        .values("assignee_id")
        .annotate(last=Max("assigned_at"))
        .values_list("assignee_id", "last")
    )
    epoch = timezone.now() - timedelta(days=365 * 100)
    return min(candidates, key=lambda u: (last.get(u) or epoch, u))
