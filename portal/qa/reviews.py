"""The QA queue's rules, shared by its pages (views_queue.py) and its API (api/qa_queue.py).

Who sees which QA review (``visible_reviews``):
- the tenant rule first: the current institution's reviews only;
- blinding: nobody sees a read of an exam whose other read they hold (assigned to them,
  or scored by them), so a second read never shows the first's score and vice versa;
- QA leads and administrators see every other review (they run the program);
- a QA reviewer sees the reviews assigned to them, the pending unassigned ones, and the
  ones they scored, never the reviews of an exam they performed (they may not score it).
Anyone else sees none (the pages and the API answer 404).

Assignment by hand (``assign``) is for QA leads and administrators: to a QA reviewer or
lead of the institution who is neither the exam's operator nor the other read's reader.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from portal.qa import notify
from portal.qa.access import is_qa_lead, is_qa_reviewer
from portal.qa.models import QAReview, QASettings
from portal.qa.program import exam_type_qa
from portal.qa.selection import qa_reviewers
from portal.tenants.scoping import scoped_to_request
from portal.text import has_unstorable
from portal.worksheets.engine import DefinitionError, Worksheet

WHO_MINE, WHO_UNASSIGNED, WHO_ALL = "mine", "unassigned", "all"
WHO_CHOICES = [(WHO_ALL, "All"), (WHO_MINE, "Assigned to me"), (WHO_UNASSIGNED, "Unassigned")]
BULK_LIMIT = 100
QUESTIONS_SECTION = "qa"


class AssignRefused(Exception):
    """Assignment refused; the message says why. ``conflict``: the review is scored."""

    def __init__(self, message: str, *, conflict: bool = False):
        super().__init__(message)
        self.conflict = conflict


def may_see_queue(membership) -> bool:
    return is_qa_reviewer(membership) or is_qa_lead(membership)


def visible_reviews(request):
    """The QA reviews the request's user may see (see the module's docstring)."""
    membership = getattr(request, "membership", None)
    reviews = scoped_to_request(QAReview, request)
    if not may_see_queue(membership):
        return reviews.none()
    user = request.user
    other_read_held = QAReview.objects.filter(exam_id=OuterRef("exam_id")).exclude(
        pk=OuterRef("pk")
    )
    other_read_held = other_read_held.filter(Q(assignee=user) | Q(scored_by=user))
    reviews = reviews.exclude(Exists(other_read_held))
    if is_qa_lead(membership):
        return reviews
    waiting = Q(assignee__isnull=True, state=QAReview.State.PENDING)
    own_exam = Q(operator=user) | Q(exam__operator=user)
    return reviews.filter(Q(assignee=user) | waiting | Q(scored_by=user)).exclude(own_exam)


def queue(request, *, who=WHO_ALL, overdue=False, exam_type=None, reason=None, now=None):
    """The pending reviews the user sees, filtered, by due date."""
    reviews = visible_reviews(request).filter(state=QAReview.State.PENDING)
    if who == WHO_MINE:
        reviews = reviews.filter(assignee=request.user)
    elif who == WHO_UNASSIGNED:
        reviews = reviews.filter(assignee__isnull=True)
    if overdue:
        reviews = reviews.filter(due_at__lt=now or timezone.now())
    if exam_type is not None:
        reviews = reviews.filter(exam_type_id=exam_type)
    if reason:
        reviews = reviews.filter(reason=reason)
    return reviews.select_related("exam_type", "operator", "assignee").order_by("due_at", "id")


def done_recently(request):
    """The reviews the user scored, the newest first."""
    return (
        visible_reviews(request)
        .filter(state=QAReview.State.DONE, scored_by=request.user)
        .select_related("exam_type", "operator")
        .order_by("-scored_at", "-id")
    )


def next_for(request, after: QAReview | None = None):
    """The next review the user may score: their own first, then unassigned, by due."""
    from portal.qa.scoring import may_score

    pending = visible_reviews(request).filter(state=QAReview.State.PENDING)
    if after is not None:
        pending = pending.exclude(pk=after.pk)
    for mine in (pending.filter(assignee=request.user), pending.filter(assignee__isnull=True)):
        for review in mine.select_related("exam").order_by("due_at", "id")[:20]:
            if may_score(review, request.user) is None:
                return review
    return None


def program_running(institution_id) -> bool:
    """The institution runs its QA program (read without making its settings row)."""
    return QASettings.objects.filter(institution_id=institution_id, is_active=True).exists()


NOT_RUNNING = "The QA program is not running: an administrator starts it in the QA settings."


def is_overdue(review, now=None) -> bool:
    return review.state == QAReview.State.PENDING and review.due_at < (now or timezone.now())


# -- assignment -------------------------------------------------------------------------


def eligible_assignees(review: QAReview):
    """The members ``review`` may be assigned to: QA reviewers and leads of its
    institution, not the exam's operator, not the other read's reader."""
    exclude = {review.operator_id, review.exam.operator_id}
    for other in QAReview.objects.filter(exam_id=review.exam_id).exclude(pk=review.pk):
        exclude |= {other.assignee_id, other.scored_by_id}
    return (
        qa_reviewers(review.institution_id)
        .exclude(user_id__in=[u for u in exclude if u is not None])
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


def assign(review: QAReview, assignee_id: int | None, now=None) -> QAReview:
    """Assign ``review`` to ``assignee_id`` (``None``: unassign). Raises ``AssignRefused``."""
    with transaction.atomic():
        current = QAReview.objects.select_for_update().select_related("exam").get(pk=review.pk)
        if current.is_done:
            raise AssignRefused("This QA review is scored already.", conflict=True)
        if assignee_id is not None:
            member = qa_reviewers(current.institution_id).filter(user_id=assignee_id).first()
            if member is None:
                raise AssignRefused("Only QA reviewers and QA leads of the institution score QA.")
            if not eligible_assignees(current).filter(user_id=assignee_id).exists():
                if assignee_id in (current.operator_id, current.exam.operator_id):
                    raise AssignRefused(
                        f"{name_of(member.user)} performed this exam: nobody QA-reviews "
                        "their own exam."
                    )
                raise AssignRefused(
                    f"{name_of(member.user)} reads the other read of this exam: the second "
                    "read is by another QA reviewer, blind to the first."
                )
        previous = current.assignee_id
        current.assignee_id = assignee_id
        current.assigned_at = (now or timezone.now()) if assignee_id is not None else None
        current.save(update_fields=["assignee", "assigned_at"])
        if assignee_id is not None and assignee_id != previous:
            notify.assigned(current)  # the new assignee: it is theirs to score
        return current


def name_of(user) -> str:
    if user is None:
        return "nobody"
    return user.get_full_name() or user.email


# -- the institution's extra questions ---------------------------------------------------


def questions_sheet(review: QAReview) -> Worksheet | None:
    """The exam type's extra QA questions as a one-section worksheet (``None``: none, or
    a definition the worksheet engine refuses: the rubric is scored without them)."""
    if review.exam_type_id is None:
        return None
    questions = exam_type_qa(review.exam_type).questions or []
    if not questions:
        return None
    try:
        return Worksheet(
            {"sections": [{"code": QUESTIONS_SECTION, "title": "Questions", "fields": questions}]}
        )
    except DefinitionError:
        return None


def clean_answers(sheet: Worksheet | None, answers) -> tuple[dict, dict[str, str]]:
    """``(answers kept, {field code: error})``: the worksheet's checks, and every required
    question answered."""
    if sheet is None:
        if answers in (None, {}):
            return {}, {}
        return {}, {"answers": "This exam type has no extra QA questions."}
    kept, errors = sheet.clean_answers(answers if answers is not None else {})
    for code, value in kept.items():
        if isinstance(value, str) and has_unstorable(value):
            errors[code] = f"{sheet.fields[code].label}: text without control characters."
    if not errors:
        for code, reason in sheet.missing(kept, {}).items():
            errors[code] = reason.replace("required before signing", "required")
    return kept, errors
