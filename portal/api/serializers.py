from django.urls import reverse
from rest_framework import serializers

from portal.exams.models import Capture, Exam, Patient, Submission


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


class CaptureSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Capture
        fields = ["id", "position", "state", "content_type", "size", "sha256", "url"]

    def get_url(self, capture):
        if capture.state != Capture.State.DONE:
            return None
        path = reverse("api-capture-media", args=[capture.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class SubmissionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Submission
        fields = ["request_uuid", "submitted_at"]


class OperatorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(source="full_name")


class ExamSerializer(serializers.ModelSerializer):
    submitted_at = serializers.DateTimeField(source="last_submitted_at")
    operator = OperatorSerializer(allow_null=True)
    patient = serializers.SerializerMethodField()
    captures = CaptureSerializer(many=True)
    submissions = SubmissionSerializer(many=True)
    reports = serializers.SerializerMethodField()

    class Meta:
        model = Exam
        fields = [
            "id",
            "exam_uuid",
            "status",
            "submitted_at",
            "first_submitted_at",
            "operator",
            "patient",
            "captures",
            "submissions",
            "reports",
        ]

    def get_patient(self, exam):
        try:
            return PatientSerializer(exam.patient).data
        except Patient.DoesNotExist:
            return None

    def get_reports(self, exam):
        reports = getattr(exam, "reports", None)
        if reports is None:
            return []
        return [{"id": r.pk, "name": r.name, "state": r.state} for r in reports.all()]
