"""The review of an exam, as small named steps: assign, save the worksheet, sign, add.

Signing locks the findings for good and issues the first report version; after that the
only way to say more is an addendum, which is signed as it is written and issues a new
version. Every step refuses (``ReviewRefused``, with a reason for the person) what the
exam's state does not allow, checked again under a row lock.

Saving or signing the worksheet may name the version it was loaded at
(``findings_version``: the web form's hidden field, the API's ``ETag``/``If-Match``);
if someone else saved or signed it since, the step is refused (``StaleFindings``)
rather than silently overwriting their edits.
"""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from portal import events
from portal.exams.models import Exam
from portal.reports.issuing import addendum_name, issue_generated_report, signed_name
from portal.reports.limits import ADDENDA_LIMIT, ADDENDUM_LIMIT, findings_too_long, too_long
from portal.reports.models import Addendum, Findings
from portal.tenants.models import Membership

# Who may be named the reviewer of an exam (the web's "Assign to me" is for these too).
REVIEWER_ROLES = (Membership.Role.ADMIN, Membership.Role.REVIEWER)
# The version of a worksheet nobody has saved yet.
UNSAVED = "unsaved"


class ReviewRefused(Exception):
    """A review step the exam's state does not allow; the message says why.

    ``field`` names the worksheet field at fault, when one is (an incomplete or too long
    worksheet); ``conflict`` is true when the exam's state is what refuses it (signed
    already, not signed yet, changed meanwhile), not what was sent.
    """

    def __init__(self, message: str, *, field: str | None = None, conflict: bool = False):
        super().__init__(message)
        self.field = field
        self.conflict = conflict


class StaleFindings(ReviewRefused):
    """The worksheet changed since the version the person was editing; ``current`` is it."""

    def __init__(self, current: Findings | None):
        self.current = current
        if current is None or current.updated_at is None:
            message = "The findings changed while you were editing them: reload them."
        else:
            who = current.updated_by.get_full_name() if current.updated_by else "Someone"
            when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M:%S")
            message = (
                f"{who} saved these findings at {when} while you were editing them, so your "
                "changes were not saved. Compare with theirs, then save again."
            )
        super().__init__(message, conflict=True)


def findings_version(findings: Findings | None) -> str:
    """A short fingerprint of the worksheet as stored: it changes with every save or
    signature. ``UNSAVED`` for an exam whose worksheet nobody has saved."""
    if findings is None or findings.pk is None:
        return UNSAVED
    stamp = findings.updated_at.isoformat() if findings.updated_at else ""
    signed = findings.signed_at.isoformat() if findings.signed_at else ""
    raw = f"{findings.pk}:{stamp}:{signed}:{findings.updated_by_id or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def stored_version(exam_id) -> str:
    """The version of the exam's worksheet as the database holds it now."""
    return findings_version(Findings.objects.filter(exam_id=exam_id).first())


def findings_of(exam) -> Findings:
    """The exam's worksheet, or a new unsaved one."""
    try:
        return exam.findings
    except Findings.DoesNotExist:
        return Findings(exam=exam, institution_id=exam.institution_id)


def assignable_reviewer(exam, user_id):
    """The member of the exam's institution ``user_id`` names, if they may review it."""
    membership = (
        Membership.objects.for_institution(exam.institution_id)
        .filter(user_id=user_id, role__in=REVIEWER_ROLES)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise ReviewRefused(
            "No reviewer or administrator of this institution has that id.", field="reviewer"
        )
    return membership.user


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


def unassign(exam) -> None:
    """Nobody reviews the exam any more; one *in review* is *new* again. A signed exam
    keeps its reviewer of record."""
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=exam.pk)
        if exam.signed_at is not None or exam.review_state not in (
            Exam.ReviewState.NEW,
            Exam.ReviewState.IN_REVIEW,
        ):
            raise ReviewRefused(
                "This exam is signed: its reviewer stays the one of record.", conflict=True
            )
        exam.reviewer = None
        exam.review_state = Exam.ReviewState.NEW
        exam.save(update_fields=["reviewer", "review_state", "updated_at"])


def save_findings(findings: Findings, user, *, expected_version: str | None = None) -> None:
    """Keep the worksheet as ``user`` left it (the draft); refused once signed, and
    refused if it changed since ``expected_version`` (when one is given)."""
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=findings.exam_id)
        _refuse_if_signed(findings)
        _refuse_if_stale(findings, expected_version)
        findings.updated_by, findings.updated_at = user, timezone.now()
        findings.save()
        _start_review(exam, user)


def sign_findings(findings: Findings, user, *, expected_version: str | None = None):
    """Sign and lock the worksheet as it stands; returns the report version it issues."""
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=findings.exam_id)
        _refuse_if_signed(findings)
        _refuse_if_stale(findings, expected_version)
        if not findings.impression.strip():
            raise ReviewRefused("Write an impression before signing.", field="impression")
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
        raise ReviewRefused("An addendum needs some text.", field="text")
    reason = too_long("The addendum", text, ADDENDUM_LIMIT)
    if reason:
        raise ReviewRefused(reason, field="text")
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=exam.pk)
        if not Findings.objects.filter(exam=exam, signed_at__isnull=False).exists():
            raise ReviewRefused(
                "The findings are not signed yet: edit them instead.", conflict=True
            )
        number = (exam.addenda.aggregate(top=Max("number"))["top"] or 0) + 1
        if number > ADDENDA_LIMIT:
            raise ReviewRefused(
                f"This exam already has {ADDENDA_LIMIT} addenda, the most one exam may carry.",
                conflict=True,
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
        raise ReviewRefused(
            "Someone else saved findings for this exam meanwhile: reload.", conflict=True
        )
    if findings.pk and Findings.objects.filter(pk=findings.pk, signed_at__isnull=False).exists():
        raise ReviewRefused(
            "These findings are signed and cannot change: add an addendum.", conflict=True
        )


def _refuse_if_stale(findings: Findings, expected_version: str | None) -> None:
    if expected_version is None:
        return
    current = Findings.objects.filter(exam_id=findings.exam_id).select_related("updated_by").first()
    if findings_version(current) != expected_version:
        raise StaleFindings(current)


def _start_review(exam, user) -> None:
    if exam.review_state == Exam.ReviewState.NEW or exam.reviewer_id is None:
        assign_to(exam, exam.reviewer or user)
