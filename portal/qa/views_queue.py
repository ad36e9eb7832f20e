"""The QA queue: the list of pending QA reviews, assignment by hand, the scoring page, and
flagging an exam for QA from the exam page.

Who sees which review is ``portal.qa.reviews.visible_reviews`` (one rule, with the API's);
anyone else gets a 404, like another institution's review. The scoring page shows the
exam's images and signed read, so it is audited as the exam page is (VIEW_EXAM).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.qa import rubric, selection
from portal.qa.access import is_qa_lead, qa_lead_required, qa_reviewer_required
from portal.qa.models import QAReview
from portal.qa.reviews import (
    BULK_LIMIT,
    NOT_RUNNING,
    WHO_ALL,
    WHO_CHOICES,
    AssignRefused,
    assign,
    clean_answers,
    done_recently,
    eligible_assignees,
    is_overdue,
    name_of,
    next_for,
    program_running,
    questions_sheet,
    queue,
    visible_reviews,
)
from portal.qa.scoring import NOTE_LIMIT, QARefused, may_score, score
from portal.reports.access import can_review, exam_or_404
from portal.reports.forms import ANSWER, _answer_field, _answer_value
from portal.reports.review import findings_of
from portal.reports.views import captures_page, worksheet_summary
from portal.text import clean_text
from portal.worksheets.models import ExamType

PER_PAGE = 25
FLAG_NOTE_LIMIT = 2000
DISAGREE_NOTE = "Say what the interpretation missed or got wrong."


class QueueFilters(forms.Form):
    who = forms.ChoiceField(label="Whose", choices=WHO_CHOICES, required=False)
    overdue = forms.BooleanField(label="Overdue only", required=False)
    type = forms.TypedChoiceField(label="Exam type", coerce=int, required=False, empty_value=None)
    reason = forms.ChoiceField(
        label="Reason", choices=[("", "Any reason"), *QAReview.Reason.choices], required=False
    )

    def __init__(self, *args, exam_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", "Any exam type")] + [(t.pk, t.name) for t in exam_types]

    def value(self, name, default=None):
        if not self.is_valid():
            return default
        return self.cleaned_data.get(name) or default


@qa_reviewer_required
def queue_page(request):
    lead = is_qa_lead(request.membership)
    exam_types = ExamType.objects.filter(institution=request.institution).order_by("name")
    filters = QueueFilters(request.GET or None, exam_types=exam_types)
    tab = "done" if request.GET.get("tab") == "done" else "queue"
    now = timezone.now()
    if tab == "done":
        rows = done_recently(request)
    else:
        rows = queue(
            request,
            who=filters.value("who", WHO_ALL),
            overdue=bool(filters.value("overdue")),
            exam_type=filters.value("type"),
            reason=filters.value("reason"),
            now=now,
        )
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    for review in page.object_list:
        review.overdue = is_overdue(review, now)
        review.age = now - review.created_at
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "tab": tab,
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "lead": lead,
        "reviewers": _assignable(request) if lead and tab == "queue" else [],
        "bulk_limit": BULK_LIMIT,
        "quality_names": rubric.QUALITY_NAMES,
    }
    return render(request, "qa/queue.html", context)


def _assignable(request):
    from portal.qa.selection import qa_reviewers

    return (
        qa_reviewers(request.institution.pk)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


def _back(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


@qa_lead_required
@require_POST
def assign_view(request):
    """Assign (or unassign) one or many reviews (the queue's checkboxes, the review page)."""
    back = _back(request, reverse("qa-queue"))
    ids = [value for value in request.POST.getlist("review") if value.isascii() and value.isdigit()]
    ids = list(dict.fromkeys(int(v) for v in ids if len(v) < 12))
    if not ids:
        messages.error(request, "Tick the QA reviews to assign.")
        return redirect(back)
    if len(ids) > BULK_LIMIT:
        messages.error(request, f"Assign at most {BULK_LIMIT} QA reviews at once.")
        return redirect(back)
    unassigning = request.POST.get("action") == "unassign"
    assignee_id = None
    if not unassigning:
        raw = request.POST.get("assignee") or ""
        if not (raw.isascii() and raw.isdigit() and len(raw) < 12):
            messages.error(request, "Choose the QA reviewer to assign.")
            return redirect(back)
        assignee_id = int(raw)
    reviews = visible_reviews(request).filter(pk__in=ids).select_related("exam", "assignee")
    found = {r.pk: r for r in reviews}
    if len(found) != len(ids):
        raise Http404("No such QA review")
    done, refused = 0, []
    for pk in ids:
        review = found[pk]
        try:
            updated = assign(review, assignee_id)
        except AssignRefused as e:
            refused.append(f"{_describe(review)}: {e}")
            continue
        audit(
            request,
            AuditEvent.Action.ASSIGN_QA,
            updated,
            exam=review.exam_id,
            assignee=assignee_id,
            previous=review.assignee_id,
        )
        done += 1
    if done:
        who = "nobody" if assignee_id is None else name_of(updated.assignee)
        verb = "Unassigned" if unassigning else f"Assigned to {clean_text(who)}:"
        messages.success(request, f"{verb} {done} QA review{'s' if done != 1 else ''}.")
    for reason in refused[:10]:
        messages.error(request, f"Not assigned, {reason}")
    return redirect(back)


def _describe(review) -> str:
    kind = review.exam_type.name if review.exam_type_id else "exam"
    return f"QA review {review.pk} ({kind})"


# -- scoring ------------------------------------------------------------------------------


class ScoreForm(forms.Form):
    image_quality = forms.TypedChoiceField(
        label="Image quality",
        choices=[(level, name) for level, name, _ in rubric.QUALITY_LEVELS],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Score the image quality from 1 to 5."},
    )
    interpretation = forms.ChoiceField(
        label="Interpretation",
        choices=rubric.INTERPRETATIONS,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose whether you agree with the interpretation."},
    )
    interpretation_note = forms.CharField(
        label="What the interpretation missed or got wrong",
        required=False,
        max_length=NOTE_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when you disagree.",
    )
    feedback = forms.CharField(
        label="Feedback to the clinician",
        required=False,
        max_length=NOTE_LIMIT,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, sheet=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.sheet = sheet
        if sheet is not None:
            for field in sheet.fields.values():
                self.fields[ANSWER + field.code] = _answer_field(field)

    def questions(self):
        if self.sheet is None:
            return []
        return [(spec, self[ANSWER + spec.code]) for spec in self.sheet.fields.values()]

    def clean(self):
        data = super().clean()
        interpretation = data.get("interpretation")
        note = (data.get("interpretation_note") or "").strip()
        if interpretation and interpretation != rubric.AGREE and not note:
            self.add_error("interpretation_note", DISAGREE_NOTE)
        if self.sheet is not None:
            raw = {
                spec.code: _answer_value(spec, data.get(ANSWER + spec.code))
                for spec in self.sheet.fields.values()
                if ANSWER + spec.code in data
            }
            kept, errors = clean_answers(self.sheet, raw)
            for code, message in errors.items():
                name = ANSWER + code
                self.add_error(name if name in self.fields else None, message)
            data["answers"] = kept
        else:
            data["answers"] = {}
        return data


def review_or_404(request, pk) -> QAReview:
    return get_object_or_404(
        visible_reviews(request).select_related(
            "exam", "exam__operator", "exam_type", "operator", "assignee", "scored_by"
        ),
        pk=pk,
    )


@qa_reviewer_required
@require_http_methods(["GET", "POST"])
def review_page(request, pk):
    review = review_or_404(request, pk)
    sheet = questions_sheet(review)
    refusal = may_score(review, request.user) if not review.is_done else None
    form = None
    status = 200
    if request.method == "POST":
        if review.is_done:
            messages.error(request, "This QA review is scored already.")
            return redirect("qa-review", review.pk)
        if refusal:
            messages.error(request, refusal)
            return redirect("qa-review", review.pk)
        form = ScoreForm(request.POST, sheet=sheet)
        if form.is_valid():
            data = form.cleaned_data
            try:
                scored = score(
                    review,
                    request.user,
                    image_quality=data["image_quality"],
                    interpretation=data["interpretation"],
                    interpretation_note=data["interpretation_note"],
                    answers=data["answers"],
                    feedback=data["feedback"],
                )
            except QARefused as e:
                if e.conflict or not e.field:
                    messages.error(request, str(e))
                    return redirect("qa-review", review.pk)
                form.add_error(e.field if e.field in form.fields else None, str(e))
            else:
                audit(
                    request,
                    AuditEvent.Action.SCORE_QA,
                    scored,
                    exam=review.exam_id,
                    read=scored.read,
                    passed=scored.passed,
                )
                messages.success(
                    request, f"Scored: {'QA passed' if scored.passed else 'QA not passed'}."
                )
                if request.POST.get("then") == "next":
                    following = next_for(request, after=scored)
                    if following is not None:
                        return redirect("qa-review", following.pk)
                    messages.info(request, "No more QA reviews to score in your queue.")
                    return redirect("qa-queue")
                return redirect("qa-review", scored.pk)
        status = 400
    elif not review.is_done and refusal is None:
        form = ScoreForm(sheet=sheet)
    exam = review.exam
    audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="qa_review", qa_review=review.pk)
    findings = findings_of(exam)
    answered = []
    if review.is_done and sheet is not None:
        sections = sheet.sections_answered(review.answers or {})
        answered = [row for _, rows in sections for row in rows]
    lead = is_qa_lead(request.membership)
    context = {
        "review": review,
        "exam": exam,
        "findings": findings,
        "worksheet": worksheet_summary(findings) if findings.is_signed else None,
        "captures": captures_page(request, exam),
        "form": form,
        "refusal": refusal,
        "levels": rubric.QUALITY_LEVELS,
        "quality_name": rubric.QUALITY_NAMES.get(review.image_quality),
        "interpretation_label": rubric.INTERPRETATION_LABELS.get(review.interpretation, ""),
        "answered": answered,
        "overdue": is_overdue(review),
        "lead": lead,
        "assignees": eligible_assignees(review) if lead and not review.is_done else [],
        "can_review": False,  # the gallery's key-image boxes are the exam page's
    }
    return render(request, "qa/score.html", context, status=status)


# -- flagging from the exam page ----------------------------------------------------------


@login_required
@require_POST
def flag_view(request, pk):
    if not can_review(request):
        raise Http404("Reviewers and administrators only")
    exam = exam_or_404(request, pk)
    back = reverse("exam-detail", args=[exam.pk])
    if exam.signed_at is None:
        messages.error(request, "Sign the exam first: QA judges the signed read.")
        return redirect(back)
    if not program_running(exam.institution_id):
        messages.error(request, NOT_RUNNING)
        return redirect(back)
    note = request.POST.get("note") or ""
    if "\x00" in note or len(note) > FLAG_NOTE_LIMIT:
        messages.error(request, f"The note is at most {FLAG_NOTE_LIMIT} characters of text.")
        return redirect(back)
    review = selection.flag(exam, request.user, clean_text(note, multiline=True))
    audit(request, AuditEvent.Action.FLAG_QA, exam, qa_review=review.pk, note=bool(note))
    messages.success(request, "Flagged for QA.")
    return redirect(back)
