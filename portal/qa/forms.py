"""The QA program's settings: the institution's rules and, per exam type, the QA-passed
exams credentialing asks for and the extra QA questions. One place for their checks and
for saving them with an audit event, shared by the settings page and the API."""

from __future__ import annotations

import json

from django import forms
from django.db import transaction

from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.qa.models import ExamTypeQA, QASettings
from portal.qa.program import exam_type_qa, settings_for
from portal.worksheets.engine import check_definition

MAX_QUESTIONS = 20
QUESTIONS_TEXT_LIMIT = 20_000
REQUIRED_LIMIT = 100_000

SETTINGS_FIELDS = [
    "is_active",
    "sample_percent",
    "double_read_percent",
    "turnaround_hours",
    "assignment",
    "privileges_gate",
    "total_required",
]


class QASettingsForm(forms.ModelForm):
    class Meta:
        model = QASettings
        fields = SETTINGS_FIELDS
        labels = {
            "is_active": "The QA program is running",
            "sample_percent": "Credentialed operators' exams sampled (%)",
            "double_read_percent": "Blinded second reads (%)",
            "turnaround_hours": "QA turnaround target (hours)",
            "assignment": "Assign QA reviews",
            "privileges_gate": "Operators need privileges for an exam type",
            "total_required": "QA-passed exams required in total",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Bounds in the form too (the model's validators say the same): a number out of
        # range is the person's mistake to correct, never a database error.
        bounds = {
            "sample_percent": (0, 100),
            "double_read_percent": (0, 100),
            "turnaround_hours": (1, 2160),
            "total_required": (1, REQUIRED_LIMIT),
        }
        for name, (low, high) in bounds.items():
            field = self.fields[name]
            field.min_value, field.max_value = low, high
            field.widget.attrs.update(min=low, max=high)
        self.fields["assignment"].help_text = (
            "Round-robin gives each selected exam to the QA reviewer assigned least "
            "recently (never the exam's operator or signer); by hand leaves it to a QA lead."
        )
        self.fields[
            "total_required"
        ].help_text = "Across every exam type; ACEP's guidelines suggest 150 to 300."


# A list of fields, a field, its choices, a choice: deeper is not a question.
MAX_DEPTH = 4


def _shape_problem(value) -> str:
    """A NUL anywhere, or nesting deeper than a question's (walked without recursion:
    what was sent may be nested very deep)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "The questions hold a character that cannot be stored (a NUL)."
        elif isinstance(item, list | dict):
            if depth > MAX_DEPTH:
                return "The questions are nested deeper than worksheet fields are."
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return ""


def check_questions(questions) -> list[str]:
    """Every problem with a list of extra QA questions (worksheet fields, see
    ``portal.worksheets.engine``), in words for the QA lead; ``[]`` if none."""
    if not isinstance(questions, list):
        return ["The questions are a JSON list of worksheet fields, [] for none."]
    if len(questions) > MAX_QUESTIONS:
        return [f"At most {MAX_QUESTIONS} questions."]
    problem = _shape_problem(questions)
    if problem:
        return [problem]
    # The engine checks fields inside a definition: one section holds them all.
    definition = {"sections": [{"code": "qa", "title": "QA questions", "fields": questions}]}
    return [
        error.replace("Section 1, field", "Question").replace("Section 1", "The questions")
        for error in check_definition(definition)
    ]


def questions_definition(questions: list) -> dict:
    """The questions as a worksheet definition (``portal.worksheets.engine.Worksheet``)."""
    return {"sections": [{"code": "qa", "title": "QA questions", "fields": list(questions)}]}


class ExamTypeQAForm(forms.Form):
    """One exam type's QA: the passes credentialing asks for, and its extra questions."""

    required_passed = forms.IntegerField(
        label="QA-passed exams required", min_value=1, max_value=REQUIRED_LIMIT
    )
    questions = forms.CharField(
        label="Extra QA questions",
        required=False,
        max_length=QUESTIONS_TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "qa-questions"}),
        help_text="Asked after image quality and interpretation: a JSON list of worksheet "
        'fields, e.g. [{"code": "gain", "label": "Gain set well", "type": "yesno"}]. '
        "Empty for none.",
    )

    def __init__(self, *args, exam_type, **kwargs):
        self.exam_type = exam_type
        kwargs.setdefault("prefix", f"type-{exam_type.pk}")
        super().__init__(*args, **kwargs)
        self.fields["required_passed"].widget.attrs.update(min=1, max=REQUIRED_LIMIT)

    def clean_questions(self):
        text = (self.cleaned_data.get("questions") or "").strip()
        if not text:
            return []
        try:
            questions = json.loads(text)
        except (ValueError, RecursionError):
            raise forms.ValidationError(
                "This is not JSON: write a list of worksheet fields, [] for none."
            ) from None
        errors = check_questions(questions)
        if errors:
            raise forms.ValidationError(errors[:10])
        return questions


def initial_for(row: ExamTypeQA) -> dict:
    return {
        "required_passed": row.required_passed,
        "questions": json.dumps(row.questions, indent=2) if row.questions else "",
    }


def save_settings(request, form: QASettingsForm) -> dict:
    """Save a valid settings form; the change (field: [before, after]) goes in the audit
    log. Returns the change ({} when nothing changed)."""
    with transaction.atomic():
        before = QASettings.objects.select_for_update().get(pk=form.instance.pk)
        settings = form.save()
        changed = {
            name: [getattr(before, name), getattr(settings, name)]
            for name in SETTINGS_FIELDS
            if getattr(before, name) != getattr(settings, name)
        }
        if changed:
            audit(request, AuditEvent.Action.CHANGE_QA_SETTINGS, settings, changed=changed)
    return changed


def save_exam_type(request, exam_type, required_passed: int, questions: list) -> dict:
    """Save one exam type's QA rules; audited with what changed (the questions are
    summarised by their codes). Returns the change ({} when nothing changed)."""
    with transaction.atomic():
        row = exam_type_qa(exam_type)
        row = ExamTypeQA.objects.select_for_update().get(pk=row.pk)
        changed = {}
        if row.required_passed != required_passed:
            changed["required_passed"] = [row.required_passed, required_passed]
        if row.questions != questions:
            changed["questions"] = [_codes(row.questions), _codes(questions)]
        if changed:
            row.required_passed, row.questions = required_passed, questions
            row.save(update_fields=["required_passed", "questions"])
            audit(
                request,
                AuditEvent.Action.CHANGE_QA_SETTINGS,
                row,
                exam_type=exam_type.code,
                changed=changed,
            )
    return changed


def _codes(questions) -> list:
    return [q.get("code") for q in questions if isinstance(q, dict)]


def current_settings(request) -> QASettings:
    return settings_for(request.institution.pk)
