"""The review of an exam, as small named steps: assign, save the worksheet, sign, add.

Signing locks the findings for good and issues the first report version; after that the
only way to say more is an addendum, which is signed as it is written and issues a new
version. Every step refuses (``ReviewRefused``, with a reason for the person) what the
exam's state does not allow, checked again under a row lock.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from portal import events
from portal.exams.models import Exam
from portal.reports.issuing import addendum_name, issue_generated_report, signed_name
from portal.reports.limits import ADDENDA_LIMIT, ADDENDUM_LIMIT, findings_too_long, too_long
from portal.reports.models import Addendum, Findings


class ReviewRefused(Exception):
    """A review step the exam's state does not allow; the message says why."""


def findings_of(exam) -> Findings:
    """The exam's worksheet, or a new unsaved one."""
    try:
        return exam.findings
    except Findings.DoesNotExist:
        return Findings(exam=exam, institution_id=exam.institution_id)


def assign_to(exam, user) -> None:
    """``user`` takes the exam for review; a new exam moves to *in review*.

    A change of reviewer emits ``exam.assigned`` in the same transaction.
    """
    changed = exam.reviewer_id != getattr(user, "pk", None)
    exam.reviewer = user
    fields = ["reviewer", "updated_at"]
    if exam.review_state == Exam.ReviewState.NEW:
        exam.review_state = Exam.ReviewState.IN_REVIEW
        fields.append("review_state")
    with transaction.atomic():
        exam.save(update_fields=fields)
        if changed:
            events.emit(events.EXAM_ASSIGNED, exam)


def save_findings(findings: Findings, user) -> None:
    """Keep the worksheet as ``user`` left it (the draft); refused once signed."""
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=findings.exam_id)
        _refuse_if_signed(findings)
        findings.updated_by, findings.updated_at = user, timezone.now()
        findings.save()
        _start_review(exam, user)


def sign_findings(findings: Findings, user):
    """Sign and lock the worksheet as it stands; returns the report version it issues."""
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=findings.exam_id)
        _refuse_if_signed(findings)
        if not findings.impression.strip():
            raise ReviewRefused("Write an impression before signing.")
        # The form checks the limits; a draft saved before they existed is checked here.
        reason = findings_too_long(findings)
        if reason:
            raise ReviewRefused(f"{reason} Shorten it before signing.")
        now = timezone.now()
        findings.updated_by, findings.updated_at = user, now
        findings.signed_by, findings.signed_at = user, now
        findings.save()
        exam.signed_at = exam.signed_at or now
        exam.review_state = Exam.ReviewState.SIGNED
        exam.reviewer = exam.reviewer or user
        exam.save(update_fields=["signed_at", "review_state", "reviewer", "updated_at"])
        report = issue_generated_report(exam, user, signed_name(now))
        events.emit(events.EXAM_SIGNED, exam, report_version=report.version)
        return report


def add_addendum(exam, user, text: str):
    """Add a signed addendum to signed findings; returns it and the report version it issues."""
    text = text.strip()
    if not text:
        raise ReviewRefused("An addendum needs some text.")
    reason = too_long("The addendum", text, ADDENDUM_LIMIT)
    if reason:
        raise ReviewRefused(reason)
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=exam.pk)
        if not Findings.objects.filter(exam=exam, signed_at__isnull=False).exists():
            raise ReviewRefused("The findings are not signed yet: edit them instead.")
        number = (exam.addenda.aggregate(top=Max("number"))["top"] or 0) + 1
        if number > ADDENDA_LIMIT:
            raise ReviewRefused(
                f"This exam already has {ADDENDA_LIMIT} addenda, the most one exam may carry."
            )
        addendum = Addendum.objects.create(
            institution_id=exam.institution_id,
            exam=exam,
            number=number,
            text=text,
            signed_by=user,
            signed_at=timezone.now(),
        )
        # A new version is on its way to Clarius: not *reported* until it arrives.
        exam.review_state = Exam.ReviewState.SIGNED
        exam.save(update_fields=["review_state", "updated_at"])
        report = issue_generated_report(exam, user, addendum_name(number, addendum.signed_at))
    return addendum, report


def _refuse_if_signed(findings: Findings) -> None:
    # Read again from the database: the form's copy may predate someone else's signature.
    if findings.pk is None and Findings.objects.filter(exam_id=findings.exam_id).exists():
        raise ReviewRefused("Someone else saved findings for this exam meanwhile: reload.")
    if findings.pk and Findings.objects.filter(pk=findings.pk, signed_at__isnull=False).exists():
        raise ReviewRefused("These findings are signed and cannot change: add an addendum.")


def _start_review(exam, user) -> None:
    if exam.review_state == Exam.ReviewState.NEW or exam.reviewer_id is None:
        assign_to(exam, exam.reviewer or user)
