"""The review of an exam, as small named steps: assign, fill the worksheet, sign, attest, add.

The worksheet is the exam type's template (``portal.worksheets``): typed answers, the
views checklist, key images, and the interpretation. Signing needs it complete (every
required field and view, field by field: ``IncompleteWorksheet``) and locks it; after
that the only way to say more is an addendum, which is signed as it is written and issues
a new version. A trainee's signature is *preliminary*: an attending (a reviewer or
administrator without the trainee flag) may edit, then attests, and the report goes out
then (or at once marked preliminary, when the institution does not hold it). An
attending who signs an exam a trainee performed attests it by signing. Every step
refuses (``ReviewRefused``, with a reason for the person) what the exam's state does not
allow, checked again under a row lock.

Saving or signing the worksheet may name the version it was loaded at
(``findings_version``: the web form's hidden field, the API's ``ETag``/``If-Match``);
if someone else saved or signed it since, the step is refused (``StaleFindings``)
rather than silently overwriting their edits.
"""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from portal import events
from portal.exams.captures import stills
from portal.exams.models import Capture, Exam
from portal.qa import privileges
from portal.qa.privileges import is_trainee
from portal.qa.selection import select_on_signing
from portal.reports.issuing import (
    addendum_name,
    attested_name,
    issue_generated_report,
    preliminary_name,
    signed_name,
)
from portal.reports.limits import ADDENDA_LIMIT, ADDENDUM_LIMIT, findings_too_long, too_long
from portal.reports.models import Addendum, Findings
from portal.tenants.models import Membership
from portal.tenants.roles import REVIEWING_ROLES
from portal.text import clean_text, storable
from portal.worksheets.engine import Worksheet
from portal.worksheets.models import ExamType

# Who may be named the reviewer of an exam (the web's "Assign to me" is for these too).
# Captures a report cannot be read from yet.
MISSING_STATES = (Capture.State.PENDING, Capture.State.FAILED)
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


class NotAllowed(ReviewRefused):
    """The person may not take this step (a trainee attesting), whatever they sent."""


class IncompleteWorksheet(ReviewRefused):
    """Signing refused: ``errors`` maps each missing or invalid field (or ``view:<code>``)
    to what it needs."""

    def __init__(self, errors: dict[str, str]):
        first = next(iter(errors.values()))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"The worksheet is not complete: {first}{more}", field="worksheet")
        self.errors = errors


class InvalidWorksheet(ReviewRefused):
    """Answers, views or key images that do not fit the worksheet; ``errors`` by code."""

    def __init__(self, errors: dict[str, str]):
        first = next(iter(errors.values()))
        super().__init__(f"The worksheet has errors: {first}", field="worksheet")
        self.errors = errors


class MissingCaptures(ReviewRefused):
    """Signing refused: ``missing`` captures of the exam are not downloaded yet (or their
    download failed), and the reviewer did not choose to sign without them."""

    def __init__(self, missing: int, failed: int):
        self.missing, self.failed = missing, failed
        some = f"{missing} capture{'s' if missing != 1 else ''} of this exam"
        state = "could not be downloaded" if failed == missing else "are not downloaded yet"
        if 0 < failed < missing:
            state = f"are not downloaded yet ({failed} failed)"
        elif missing == 1:
            state = "could not be downloaded" if failed else "is not downloaded yet"
        super().__init__(
            f"{some} {state}: wait for them, or confirm signing without the missing captures.",
            field="sign_without_missing_captures",
            conflict=True,
        )


class StaleFindings(ReviewRefused):
    """The worksheet changed since the version the person was editing; ``current`` is it."""

    def __init__(self, current: Findings | None):
        self.current = current
        if current is None or current.updated_at is None:
            message = "The findings changed while you were editing them: reload them."
        else:
            who = current.updated_by.get_full_name() if current.updated_by else "Someone"
            when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M:%S %Z")
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


# The most key images a report shows, and the longest caption.
KEY_IMAGES_LIMIT = 12
CAPTION_LIMIT = 200


def worksheet_of(findings: Findings) -> Worksheet | None:
    """The worksheet the findings are on (their template version), if any."""
    if findings.template_id is None:
        return None
    return Worksheet(findings.template.definition)


def exam_types_of(institution_id, *, include=None):
    """The exam types a reviewer may choose: the institution's in use, and ``include``
    (the one the exam has now, even if retired since)."""
    keep = Q(is_active=True)
    if include is not None:
        keep |= Q(pk=include.pk)
    return ExamType.objects.for_institution(institution_id).filter(keep)


def fill_worksheet(
    findings: Findings,
    *,
    exam_type: ExamType | None,
    answers,
    views,
    key_images,
    strict: bool = True,
) -> list[str]:
    """Put the structured part of the worksheet on ``findings`` (not saved).

    The worksheet follows ``exam_type``'s newest template. Answers and views meant for
    another template (the type was changed, or edited since the draft began) are moved
    over: with ``strict`` (the API) anything that does not fit is an error, otherwise
    (the page, where the reviewer just changed the type) what does not fit is dropped
    and its codes returned so the person is told. Invalid values are always an error
    (``InvalidWorksheet``), as are key images that are not stills of this exam.
    """
    if exam_type is not None and exam_type.institution_id != findings.institution_id:
        raise InvalidWorksheet({"exam_type": "Not an exam type of this institution."})
    template = exam_type.current_template() if exam_type is not None else None
    dropped: list[str] = []
    errors: dict[str, str] = {}
    if template is None:
        clean_answers, clean_views = {}, {}
        if answers or views:
            errors["exam_type"] = "Choose the exam type: the answers belong to its worksheet."
    else:
        worksheet = Worksheet(template.definition)
        moving = findings.template_id is not None and findings.template_id != template.pk
        if moving and not strict:
            answers, views, dropped = worksheet.refit(_dict(answers), _dict(views))
        clean_answers, answer_errors = worksheet.clean_answers(answers)
        clean_views, view_errors = worksheet.clean_views(views)
        errors.update(answer_errors)
        errors.update({f"view:{code}": message for code, message in view_errors.items()})
    clean_keys, key_errors = _clean_key_images(findings, key_images)
    errors.update(key_errors)
    if errors:
        raise InvalidWorksheet(errors)
    findings.template = template
    findings.answers = storable(_clean_strings(clean_answers))
    findings.views = storable(_clean_strings(clean_views))
    findings.key_images = clean_keys
    findings._exam_type = exam_type  # saved on the exam with the findings
    return dropped


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _clean_strings(value):
    """Typed text (answers, reasons) as any other text: no controls or bidi overrides."""
    if isinstance(value, str):
        return clean_text(value, multiline=True)
    if isinstance(value, dict):
        return {k: _clean_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_strings(v) for v in value]
    return value


def _clean_key_images(findings: Findings, key_images) -> tuple[dict, dict]:
    if key_images in (None, ""):
        return {}, {}
    if not isinstance(key_images, dict):
        return {}, {"key_images": "Key images are an object of capture id to caption."}
    if len(key_images) > KEY_IMAGES_LIMIT:
        return {}, {"key_images": f"At most {KEY_IMAGES_LIMIT} key images."}
    ids = {}
    errors = {}
    for raw, caption in key_images.items():
        text = str(raw)
        if not (text.isascii() and text.isdigit() and len(text) < 19):
            errors[f"key_images:{text[:20]}"] = "Not a capture id."
            continue
        if caption is None:
            caption = ""
        if not isinstance(caption, str):
            errors[f"key_images:{text}"] = "A caption is text."
            continue
        caption = clean_text(caption).strip()
        if len(caption) > CAPTION_LIMIT:
            errors[f"key_images:{text}"] = f"A caption has at most {CAPTION_LIMIT} characters."
            continue
        ids[int(text)] = caption
    if ids:
        allowed = set(stills(findings.exam).filter(pk__in=ids).values_list("pk", flat=True))
        for pk in ids:
            if pk not in allowed:
                errors[f"key_images:{pk}"] = "Not a still image of this exam."
    ordered = {str(pk): ids[pk] for pk in sorted(ids)}
    return ordered, errors


def completeness_errors(findings: Findings) -> dict[str, str]:
    """What signing still needs, field by field (empty when the worksheet is complete)."""
    errors: dict[str, str] = {}
    worksheet = worksheet_of(findings)
    if worksheet is None:
        errors["exam_type"] = "Choose the exam type: its worksheet is what is signed."
    else:
        errors.update(worksheet.missing(findings.answers or {}, findings.views or {}))
    if not findings.impression.strip():
        errors["impression"] = "Write the interpretation (impression) before signing."
    return errors


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
        .filter(user_id=user_id, role__in=REVIEWING_ROLES)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise ReviewRefused(
            "No reviewer or administrator of this institution has that id.", field="reviewer"
        )
    return membership.user


def reviewer_named(exam, actor, named_id: int | None, *, admin: bool):
    """Whom an assignment by ``actor`` gives the exam to: themself when nobody else is
    named; another reviewer or administrator of the exam's institution only when the
    actor is an administrator (``admin``). ``ReviewRefused`` otherwise."""
    if named_id is None or named_id == actor.pk:
        return actor
    if not admin:
        raise ReviewRefused("Only administrators assign exams to someone else.", field="reviewer")
    return assignable_reviewer(exam, named_id)


def check_unassign(exam, actor, *, admin: bool) -> None:
    """Unassigning is for the assigned reviewer or an administrator."""
    if exam.reviewer_id not in (None, actor.pk) and not admin:
        raise ReviewRefused(
            "Only administrators unassign an exam someone else reviews.", field="reviewer"
        )


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
    """Keep the worksheet as ``user`` left it (the draft); refused once signed (an
    attending may still edit a trainee's preliminary worksheet before attesting), and
    refused if it changed since ``expected_version`` (when one is given)."""
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=findings.exam_id)
        _refuse_if_locked(findings, user)
        _refuse_if_stale(findings, expected_version)
        findings.updated_by, findings.updated_at = user, timezone.now()
        findings.save()
        _keep_exam_type(exam, findings)
        _start_review(exam, user)


def missing_captures(exam_id) -> tuple[int, int]:
    """How many of the exam's captures are not downloaded (pending or failed), and how
    many of those failed; resubmitted copies are not counted."""
    counts = Capture.objects.filter(
        exam_id=exam_id, duplicate_of__isnull=True, state__in=MISSING_STATES
    ).aggregate(
        missing=Count("pk"),
        failed=Count("pk", filter=Q(state=Capture.State.FAILED)),
    )
    return counts["missing"], counts["failed"]


def sign_findings(
    findings: Findings,
    user,
    *,
    expected_version: str | None = None,
    without_missing_captures: bool = False,
):
    """Sign the worksheet as it stands; returns the report version it issues, or ``None``
    when a trainee signed and the institution holds the report for attestation.

    A report is read from the images: while some are not downloaded (or failed), signing
    is refused (``MissingCaptures``) unless the reviewer chose to sign without them
    (``without_missing_captures``); ``findings.missing_captures_at_signing`` then says
    how many were missing, for the audit event."""
    with transaction.atomic():
        exam = (
            # Only the exam row is locked: the operator is an outer join PostgreSQL
            # cannot lock.
            Exam.objects.select_for_update(of=("self",))
            .select_related("institution", "operator")
            .get(pk=findings.exam_id)
        )
        _refuse_if_signed(findings)
        _refuse_if_stale(findings, expected_version)
        _refuse_if_incomplete(findings)
        missing, failed = missing_captures(exam.pk)
        if missing and not without_missing_captures:
            raise MissingCaptures(missing, failed)
        findings.missing_captures_at_signing = missing
        now = timezone.now()
        # The worksheet's exam type first: the privileges asked for are for that type.
        _keep_exam_type(exam, findings)
        # A trainee's, or an operator's without privileges for the exam type (portal.qa).
        trainee = privileges.needs_attestation(user.pk, exam)
        first_signature = exam.signed_at is None
        findings.updated_by, findings.updated_at = user, now
        findings.signed_by, findings.signed_at = user, now
        findings.signed_as_trainee = trainee
        if not trainee and exam.operator_id and is_trainee(exam.operator_id, exam.institution_id):
            # An attending's own signature on a trainee's exam is its attestation.
            _attest(findings, exam, user, now)
        findings.save()
        exam.signed_at = exam.signed_at or now
        exam.review_state = Exam.ReviewState.PRELIMINARY if trainee else Exam.ReviewState.SIGNED
        exam.reviewer = exam.reviewer or user
        exam.save(update_fields=["signed_at", "review_state", "reviewer", "updated_at"])
        if first_signature:
            # The read QA judges exists now: the institution's rules pick the exam or not.
            select_on_signing(exam, user, now)
        if trainee and exam.institution.hold_trainee_reports:
            return None
        name = (preliminary_name if trainee else signed_name)(now, exam.institution)
        report = issue_generated_report(exam, user, name)
        events.emit(
            events.EXAM_SIGNED,
            exam,
            report_version=report.version,
            # What the receiving system files it as (an EHR: P or F).
            report_status="preliminary" if trainee else "final",
        )
        return report


def attest_findings(findings: Findings, user, *, expected_version: str | None = None):
    """An attending attests a trainee's signed worksheet (as the attending left it, edits
    saved first by the caller); returns the final report version it issues."""
    with transaction.atomic():
        exam = (
            Exam.objects.select_for_update(of=("self",))
            .select_related("institution")
            .get(pk=findings.exam_id)
        )
        current = Findings.objects.filter(exam_id=findings.exam_id).first()
        if current is None or not current.awaiting_attestation:
            raise ReviewRefused(
                "Only a worksheet signed as preliminary, not yet attested, can be attested.",
                conflict=True,
            )
        if is_trainee(user.pk, exam.institution_id):
            raise NotAllowed(
                "A trainee cannot attest: an attending (a reviewer who is not a trainee) attests."
            )
        if current.signed_by_id == user.pk:
            raise NotAllowed(
                "You signed these findings before holding privileges for this exam type: "
                "another attending attests them."
            )
        _refuse_if_stale(findings, expected_version)
        _refuse_if_incomplete(findings)
        now = timezone.now()
        findings.updated_by, findings.updated_at = user, now
        _attest(findings, exam, user, now)
        findings.save()
        _keep_exam_type(exam, findings)
        exam.review_state = Exam.ReviewState.SIGNED
        exam.save(update_fields=["review_state", "updated_at"])
        report = issue_generated_report(exam, user, attested_name(now, exam.institution))
        events.emit(events.EXAM_SIGNED, exam, report_version=report.version, report_status="final")
        return report


def _attest(findings: Findings, exam, user, now) -> None:
    findings.attested_by, findings.attested_at = user, now
    findings.attestation_statement = exam.institution.attestation_statement


def _refuse_if_incomplete(findings: Findings) -> None:
    errors = completeness_errors(findings)
    if errors:
        raise IncompleteWorksheet(errors)
    # The form checks the limits; a draft saved before they existed is checked here.
    reason = findings_too_long(findings)
    if reason:
        raise ReviewRefused(f"{reason} Shorten it before signing.")


def _keep_exam_type(exam, findings: Findings) -> None:
    """The exam's type is the worksheet's, confirmed by the person who saved it."""
    exam_type = getattr(findings, "_exam_type", None)
    if exam_type is None and findings.template_id is None:
        return
    type_id = exam_type.pk if exam_type is not None else findings.template.exam_type_id
    if exam.exam_type_id != type_id or not exam.exam_type_confirmed:
        exam.exam_type_id, exam.exam_type_confirmed = type_id, True
        exam.save(update_fields=["exam_type", "exam_type_confirmed", "updated_at"])


def add_addendum(exam, user, text: str, *, captures=()):
    """Add a signed addendum to signed findings; returns it and the report version it issues.

    ``captures``: ids of images that arrived after signing which the addendum is about;
    an addendum clears the exam's "new images since signing".
    """
    text = text.strip()
    if not text:
        raise ReviewRefused("An addendum needs some text.", field="text")
    reason = too_long("The addendum", text, ADDENDUM_LIMIT)
    if reason:
        raise ReviewRefused(reason, field="text")
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=exam.pk)
        findings = Findings.objects.filter(exam=exam, signed_at__isnull=False).first()
        if findings is None:
            raise ReviewRefused(
                "The findings are not signed yet: edit them instead.", conflict=True
            )
        if findings.awaiting_attestation and exam.institution.hold_trainee_reports:
            raise ReviewRefused(
                "The worksheet awaits attestation: the attending edits it and attests.",
                conflict=True,
            )
        referenced = list(
            exam.captures.filter(pk__in=_ids(captures), duplicate_of__isnull=True).values_list(
                "pk", flat=True
            )
        )
        if len(referenced) != len(set(_ids(captures))):
            raise ReviewRefused("An image referred to is not one of this exam.", field="captures")
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
        addendum.captures.set(referenced)
        # A new version is on its way to Clarius: not *reported* until it arrives.
        if exam.review_state != Exam.ReviewState.PRELIMINARY:
            exam.review_state = Exam.ReviewState.SIGNED
        exam.new_images_since_signing = False
        exam.save(update_fields=["review_state", "new_images_since_signing", "updated_at"])
        report = issue_generated_report(
            exam, user, addendum_name(number, addendum.signed_at, exam.institution)
        )
    return addendum, report


def _ids(values) -> list[int]:
    out = []
    for value in values or ():
        text = str(value)
        if not (text.isascii() and text.isdigit() and len(text) < 19):
            raise ReviewRefused("An image referred to is not one of this exam.", field="captures")
        out.append(int(text))
    return out


def _refuse_if_locked(findings: Findings, user) -> None:
    """Signed findings are locked, except to an attending before attesting them."""
    current = Findings.objects.filter(pk=findings.pk).first() if findings.pk else None
    if current is not None and current.awaiting_attestation:
        if is_trainee(user.pk, findings.institution_id) or current.signed_by_id == user.pk:
            raise ReviewRefused(
                "These findings are signed and wait for an attending's attestation.",
                conflict=True,
            )
        return
    _refuse_if_signed(findings)


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
