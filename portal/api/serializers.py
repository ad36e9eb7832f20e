"""The API's documents. Outside text (names, identifiers, unknown patient fields) leaves
cleaned of control and bidi characters, as on the pages; an exam embeds only its first
captures, with their count and the link to page through them all."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from portal.exams.captures import shown
from portal.exams.models import Capture, Exam, Patient, Submission
from portal.reports.models import Report
from portal.text import clean_text

# How many captures an exam embeds: in its own document, and in the list of exams.
EMBEDDED_CAPTURES = 100
EMBEDDED_CAPTURES_IN_LIST = 3
# Unknown patient fields: each string is cut to this; nesting deeper than this is cut off.
EXTRA_TEXT_LENGTH = 1000
EXTRA_DEPTH = 8


def clean_json(value, depth=0):
    """A JSON-like value with every string (keys too) cleaned and capped."""
    if isinstance(value, str):
        return clean_text(value, max_length=EXTRA_TEXT_LENGTH)
    if depth >= EXTRA_DEPTH and isinstance(value, dict | list):
        return None
    if isinstance(value, dict):
        return {clean_json(k, depth): clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v, depth + 1) for v in value]
    return value


class PatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = [
            "identifier",
            "first_name",
            "middle_name",
            "last_name",
            "date_of_birth",
            "gender",
            "animal_name",
            "animal_type",
            "owner_name",
            "extra",
        ]

    def to_representation(self, patient):
        data = super().to_representation(patient)
        for key, value in data.items():
            if isinstance(value, str):
                data[key] = clean_text(value)
        data["extra"] = clean_json(data.get("extra"))
        return data


# The order captures are embedded and paged in: as they were submitted.
CAPTURE_ORDER = ("submission_id", "position", "id")


class CaptureSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(
        help_text="The bytes (GET, byte ranges supported); null until downloaded, and once "
        "the media was removed by the institution's retention policy."
    )
    media_purged_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the institution's retention policy removed the media (the "
        "thumbnail and report are kept); null while it is kept.",
    )

    class Meta:
        model = Capture
        fields = [
            "id",
            "position",
            "state",
            "content_type",
            "size",
            "sha256",
            "url",
            "media_purged_at",
        ]

    @extend_schema_field({"type": ["string", "null"], "format": "uri"})
    def get_url(self, capture):
        if capture.state != Capture.State.DONE or capture.media_purged_at is not None:
            return None
        path = reverse("api-capture-media", args=[capture.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class SubmissionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Submission
        fields = ["request_uuid", "submitted_at"]


class CleanCharField(serializers.CharField):
    def to_representation(self, value):
        return clean_text(value)


class OperatorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = CleanCharField()
    name = CleanCharField(source="full_name")


class ExamSerializer(serializers.ModelSerializer):
    submitted_at = serializers.DateTimeField(source="last_submitted_at")
    operator = OperatorSerializer(allow_null=True)
    patient = serializers.SerializerMethodField()
    captures = serializers.SerializerMethodField()
    captures_count = serializers.SerializerMethodField()
    captures_url = serializers.SerializerMethodField()
    submissions = SubmissionSerializer(many=True)
    reports = serializers.SerializerMethodField()
    exam_type = serializers.SerializerMethodField(
        help_text="The exam type's code (`GET /exam-types/`); null when none is chosen or "
        "proposed yet."
    )
    exam_type_confirmed = serializers.BooleanField(
        help_text="Whether a reviewer chose or kept the exam type (false: only proposed "
        "from the Clarius application)."
    )

    class Meta:
        model = Exam
        fields = [
            "id",
            "exam_uuid",
            "status",
            "review_state",
            "exam_type",
            "exam_type_confirmed",
            "submitted_at",
            "first_submitted_at",
            "operator",
            "patient",
            "captures",
            "captures_count",
            "captures_url",
            "submissions",
            "reports",
        ]

    @extend_schema_field({"type": ["string", "null"]})
    def get_exam_type(self, exam):
        # select_related by the views: no query per row.
        return exam.exam_type.code if exam.exam_type_id else None

    @extend_schema_field(PatientSerializer(allow_null=True))
    def get_patient(self, exam):
        try:
            patient = exam.patient
        except Patient.DoesNotExist:
            return None
        return self._nested("patient", PatientSerializer).to_representation(patient)

    def _nested(self, name, serializer_class):
        """One nested serializer per list, not per row: building one (its fields) costs
        more than the row it draws (bench_api: 59% of a 200-row page)."""
        cache = self.__dict__.setdefault("_nested_serializers", {})
        if name not in cache:
            cache[name] = serializer_class(context=self.context)
        return cache[name]

    @extend_schema_field(CaptureSerializer(many=True))
    def get_captures(self, exam):
        """The first captures only (the view prefetches them as ``embedded_captures``);
        ``captures_url`` pages through them all."""
        captures = getattr(exam, "embedded_captures", None)
        if captures is None:
            captures = shown(exam.captures.order_by(*CAPTURE_ORDER))[:EMBEDDED_CAPTURES]
        child = self._nested("capture", CaptureSerializer)
        return [child.to_representation(capture) for capture in captures]

    @extend_schema_field(OpenApiTypes.INT)
    def get_captures_count(self, exam):
        count = getattr(exam, "captures_count", None)
        return shown(exam.captures.all()).count() if count is None else count

    @extend_schema_field(OpenApiTypes.URI)
    def get_captures_url(self, exam):
        path = reverse("api-exam-captures", args=[exam.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(
        inline_serializer(
            "ExamReport",
            {
                "id": serializers.IntegerField(),
                "name": serializers.CharField(),
                "state": serializers.ChoiceField(choices=Report.State.choices),
            },
            many=True,
        )
    )
    def get_reports(self, exam):
        reports = getattr(exam, "reports", None)
        if reports is None:
            return []
        return [{"id": r.pk, "name": clean_text(r.name), "state": r.state} for r in reports.all()]
