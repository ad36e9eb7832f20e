"""The QA program's settings over the API: QA leads and administrators only.

The settings page's rules (``portal.qa.forms``: the same bounds, the extra questions
checked as worksheet fields by ``portal.worksheets.engine``) and its audit events
(``change_qa_settings``, with what changed). Anyone else gets a 404, as on the page;
another institution's exam type is a 404 too. A key with the read scope reads; a write
needs the write scope (``portal.api.permissions.ApiKeyScope``).
"""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from portal.api.review import AnyValue, BoundedBodyView, form_errors
from portal.qa.access import is_qa_lead
from portal.qa.forms import (
    REQUIRED_LIMIT,
    SETTINGS_FIELDS,
    QASettingsForm,
    check_questions,
    save_exam_type,
    save_settings,
)
from portal.qa.models import QASettings
from portal.qa.program import exam_type_qa, settings_for
from portal.tenants.scoping import scoped_to_request
from portal.text import clean_text
from portal.worksheets.models import ExamType

BOOLEANS = ("is_active", "privileges_gate")
NUMBERS = ("sample_percent", "double_read_percent", "turnaround_hours", "total_required")


class QALeadView(BoundedBodyView):
    """QA leads and administrators of the current institution only: anyone else a 404."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not is_qa_lead(getattr(request, "membership", None)):
            raise Http404("QA leads and administrators only")


class QASettingsSerializer(serializers.Serializer):
    is_active = serializers.BooleanField(
        help_text="The QA program is running: exams are selected for QA at first signature "
        "and, with `privileges_gate`, reports are gated on privileges."
    )
    sample_percent = serializers.IntegerField(
        min_value=0,
        max_value=100,
        help_text="The share of credentialed operators' exams sampled for QA at random "
        "(trainees' and not-yet-credentialed operators' exams are always reviewed).",
    )
    double_read_percent = serializers.IntegerField(
        min_value=0,
        max_value=100,
        help_text="The share of QA reviews read again, blind, by a second QA reviewer.",
    )
    turnaround_hours = serializers.IntegerField(
        min_value=1, max_value=2160, help_text="A QA review is due this long after selection."
    )
    assignment = serializers.ChoiceField(
        choices=QASettings.Assignment.choices,
        help_text="`round_robin` among the QA reviewers, or `manual` (a QA lead assigns).",
    )
    privileges_gate = serializers.BooleanField(
        help_text="An operator not credentialed for an exam type signs its exams as preliminary."
    )
    total_required = serializers.IntegerField(
        min_value=1,
        max_value=REQUIRED_LIMIT,
        help_text="QA-passed exams required in total, across exam types.",
    )


class QASettingsInputSerializer(QASettingsSerializer):
    """Any of the settings; what is not sent stays."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


def settings_document(settings: QASettings) -> dict:
    return {name: getattr(settings, name) for name in SETTINGS_FIELDS}


def _refuse_unknown(data: dict, known) -> None:
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise serializers.ValidationError(
            {"non_field_errors": [f"Unknown keys: {clean_text(', '.join(unknown))[:200]}."]}
        )


class QASettingsDetail(QALeadView):
    """The institution's QA program settings."""

    @extend_schema(
        summary="The QA program's settings (QA leads and administrators)",
        operation_id="qa_settings_retrieve",
        responses=QASettingsSerializer,
        tags=["qa"],
    )
    def get(self, request):
        return Response(settings_document(settings_for(request.institution.pk)))

    @extend_schema(
        summary="Change the QA program's settings",
        operation_id="qa_settings_update",
        description="Send any of the settings; the others stay. Numbers are whole JSON "
        "numbers within their bounds, switches JSON booleans. The change is in the audit "
        "log (`change_qa_settings`, each changed setting's value before and after).",
        request=QASettingsInputSerializer,
        responses=QASettingsSerializer,
        examples=[
            OpenApiExample("Start the program", value={"is_active": True, "sample_percent": 10})
        ],
        tags=["qa"],
    )
    def patch(self, request):
        data = self.body(request)
        _refuse_unknown(data, SETTINGS_FIELDS)
        if not data:
            raise serializers.ValidationError({"non_field_errors": ["Send at least one setting."]})
        for name in BOOLEANS:
            if name in data and not isinstance(data[name], bool):
                raise serializers.ValidationError({name: ["Send true or false."]})
        for name in NUMBERS:
            if name in data and (isinstance(data[name], bool) or not isinstance(data[name], int)):
                raise serializers.ValidationError({name: ["Send a whole number."]})
        if "assignment" in data and not isinstance(data["assignment"], str):
            raise serializers.ValidationError(
                {"assignment": [f"Choose one of: {', '.join(QASettings.Assignment.values)}."]}
            )
        settings = settings_for(request.institution.pk)
        form = QASettingsForm({**settings_document(settings), **data}, instance=settings)
        if not form.is_valid():
            raise form_errors(form)
        save_settings(request, form)
        return Response(settings_document(settings_for(request.institution.pk)))


class QuestionSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=["choice", "multi", "yesno", "number", "text"])


class ExamTypeQASerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The exam type's code (`GET /exam-types/`).")
    name = serializers.CharField()
    required_passed = serializers.IntegerField(
        min_value=1,
        max_value=REQUIRED_LIMIT,
        help_text="QA-passed exams an operator needs to be credentialed for the exam type.",
    )
    questions = serializers.ListField(
        child=AnyValue(),
        help_text="The extra QA questions: worksheet fields, as in an exam type's "
        "worksheet definition (`code`, `label`, `type`, and `choices`, `unit`, `min`, "
        "`max`, `max_length`, `required` as the type needs); at most 20.",
    )


class ExamTypeQAInputSerializer(serializers.Serializer):
    required_passed = serializers.IntegerField(
        min_value=1, max_value=REQUIRED_LIMIT, required=False
    )
    questions = serializers.ListField(child=AnyValue(), required=False)


def exam_type_document(exam_type) -> dict:
    row = exam_type_qa(exam_type)
    return {
        "code": exam_type.code,
        "name": clean_text(exam_type.name),
        "required_passed": row.required_passed,
        "questions": row.questions,
    }


class ExamTypeQADetail(QALeadView):
    """One exam type's QA: the passes required and the extra questions."""

    def exam_type(self, request, code):
        found = scoped_to_request(ExamType, request).filter(code=code).first()
        if found is None:
            raise Http404("No such exam type")
        return found

    @extend_schema(
        summary="One exam type's QA rules (QA leads and administrators)",
        operation_id="qa_exam_types_retrieve",
        responses=ExamTypeQASerializer,
        tags=["qa"],
    )
    def get(self, request, code):
        return Response(exam_type_document(self.exam_type(request, code)))

    @extend_schema(
        summary="Change one exam type's QA rules",
        operation_id="qa_exam_types_update",
        description="Send `required_passed`, `questions` or both; the change is in the audit "
        "log (`change_qa_settings`). The questions are checked as worksheet fields; each "
        "problem is named.",
        request=ExamTypeQAInputSerializer,
        responses=ExamTypeQASerializer,
        examples=[
            OpenApiExample(
                "A yes/no question",
                value={
                    "required_passed": 30,
                    "questions": [{"code": "gain", "label": "Gain set well", "type": "yesno"}],
                },
            )
        ],
        tags=["qa"],
    )
    def patch(self, request, code):
        exam_type = self.exam_type(request, code)
        data = self.body(request)
        _refuse_unknown(data, ("required_passed", "questions"))
        if not data:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send required_passed, questions or both."]}
            )
        row = exam_type_qa(exam_type)
        required, questions = row.required_passed, row.questions
        if "required_passed" in data:
            required = data["required_passed"]
            if (
                isinstance(required, bool)
                or not isinstance(required, int)
                or not 1 <= required <= REQUIRED_LIMIT
            ):
                raise serializers.ValidationError(
                    {"required_passed": [f"A whole number from 1 to {REQUIRED_LIMIT}."]}
                )
        if "questions" in data:
            questions = data["questions"]
            errors = check_questions(questions)
            if errors:
                raise serializers.ValidationError({"questions": errors[:10]})
        save_exam_type(request, exam_type, required, questions)
        return Response(exam_type_document(exam_type))


urlpatterns = [
    path("settings/", QASettingsDetail.as_view(), name="api-qa-settings"),
    path("exam-types/<slug:code>/", ExamTypeQADetail.as_view(), name="api-qa-exam-type"),
]
