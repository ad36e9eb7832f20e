import json

from django.contrib import admin
from django.utils.html import format_html

from portal.exams.models import AuditEvent, Capture, Exam, Patient, Submission
from portal.exams.templatetags.display import isolated
from portal.work.admin import WorkAdminMixin


class SubmissionInline(admin.TabularInline):
    model = Submission
    extra = 0
    fields = ["request_uuid", "submitted_at", "fetched_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True  # the submission's page shows the raw exam document


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    """Read-only: a submission is what Clarius sent, kept as it was."""

    list_display = ["request_uuid", "exam", "institution", "submitted_at", "fetched_at"]
    list_filter = ["institution"]
    search_fields = ["=request_uuid", "=exam__exam_uuid"]
    list_select_related = ["exam", "institution"]
    exclude = ["raw_document", "download_url"]
    readonly_fields = [
        "request_uuid",
        "exam",
        "institution",
        "submitted_at",
        "fetched_at",
        "document",
    ]

    @admin.display(description="Raw exam document")
    def document(self, submission):
        # Every non-ASCII character escaped: a bidi override in a value cannot reorder
        # the page, and the unknown fields are shown whole, as Clarius sent them.
        text = json.dumps(submission.raw_document, indent=2, ensure_ascii=True)
        return format_html("<pre>{}</pre>", text)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CaptureInline(admin.TabularInline):
    model = Capture
    extra = 0
    fields = ["position", "state", "content_type", "size", "attempts", "last_error"]
    readonly_fields = fields
    can_delete = False


@admin.register(Exam)
class ExamAdmin(admin.ModelAdmin):
    list_display = [
        "exam_uuid",
        "institution",
        "status",
        "review_state",
        "operator_name",
        "last_submitted_at",
    ]
    list_filter = ["status", "review_state", "institution"]
    search_fields = ["=exam_uuid", "submissions__request_uuid"]
    list_select_related = ["institution", "operator"]
    readonly_fields = ["exam_uuid", "institution", "first_submitted_at", "last_submitted_at"]
    inlines = [SubmissionInline, CaptureInline]

    @admin.display(description="operator", ordering="operator__full_name")
    def operator_name(self, exam):
        # Names come from outside: isolated, without control or bidi characters.
        return isolated(exam.operator.get_full_name() if exam.operator else "", "-")


@admin.register(Capture)
class CaptureAdmin(WorkAdminMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "institution",
        "state",
        "content_type",
        "size",
        "attempts",
        "next_attempt_at",
        "last_error_short",
    ]
    list_filter = ["state", "content_type", "institution"]
    search_fields = ["=submission__request_uuid", "=exam__exam_uuid"]
    list_select_related = ["institution", "submission"]
    actions = ["retry_now"]
    exclude = ["source_url"]  # a live pre-signed link is a credential of sorts
    readonly_fields = [
        "institution",
        "exam",
        "submission",
        "position",
        "state",
        "file",
        "thumbnail",
        "content_type",
        "size",
        "sha256",
        "width",
        "height",
        "downloaded_at",
        *WorkAdminMixin.work_readonly,
    ]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["name", "patient_identifier", "institution"]
    list_filter = ["institution"]
    search_fields = ["identifier", "last_name", "animal_name"]
    list_select_related = ["institution"]

    @admin.display(description="patient", ordering="last_name")
    def name(self, patient):
        return isolated(patient.display_name, "Unnamed patient")

    @admin.display(description="patient ID", ordering="identifier")
    def patient_identifier(self, patient):
        return isolated(patient.identifier, "-")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "at", "user", "institution", "action", "object_type", "object_id", "ip_address", "seq",
    ]  # fmt: skip
    # The chain's number and hash (portal.exams.audit_chain), shown but never editable.
    readonly_fields = ["seq", "hash"]
    list_filter = ["action", "institution", "at"]
    search_fields = ["user__email", "object_id"]
    list_select_related = ["user", "institution"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the audit trail is append-only

    def has_delete_permission(self, request, obj=None):
        return False
