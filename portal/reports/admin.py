from django.contrib import admin, messages

from portal.reports.issuing import retry_report
from portal.reports.models import Addendum, Delivery, Findings, Report
from portal.work.admin import WorkAdminMixin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Clinical content is written on the exam page by its institution's staff, not here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Findings)
class FindingsAdmin(ReadOnlyAdmin):
    list_display = ["exam", "institution", "signed_by", "signed_at", "updated_at"]
    list_filter = ["institution", "signed_at"]
    search_fields = ["=exam__exam_uuid"]
    list_select_related = ["exam", "institution", "signed_by"]


@admin.register(Addendum)
class AddendumAdmin(ReadOnlyAdmin):
    list_display = ["exam", "number", "institution", "signed_by", "signed_at"]
    list_filter = ["institution", "signed_at"]
    search_fields = ["=exam__exam_uuid"]
    list_select_related = ["exam", "institution", "signed_by"]


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["destination", "state", "attempts", "next_attempt_at", "sent_at", "last_error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Report)
class ReportAdmin(WorkAdminMixin, admin.ModelAdmin):
    inlines = [DeliveryInline]
    list_display = [
        "name",
        "version",
        "institution",
        "source",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error_short",
        "pushed_at",
    ]
    list_filter = ["state", "source", "institution", "created_at"]
    search_fields = ["=exam__exam_uuid", "=submission__request_uuid", "name"]
    list_select_related = ["institution"]
    actions = ["retry_now"]
    readonly_fields = [
        "institution",
        "exam",
        "submission",
        "version",
        "name",
        "file",
        "size",
        "sha256",
        "source",
        "addenda_included",
        "state",
        "pushed_at",
        "created_by",
        "created_at",
        *WorkAdminMixin.work_readonly,
    ]

    def has_add_permission(self, request):
        return False  # versions come from signing, addenda and the API

    def retryable(self, queryset):
        # Sending a delivered report again would show it twice at its destinations.
        return queryset.exclude(state=Report.State.PUSHED)

    @admin.action(description="Retry now")
    def retry_now(self, request, queryset):
        # As the exam page's button: a version whose PDF was never made is drawn again,
        # and a version a worker holds right now is left to it.
        done = sum(retry_report(report) for report in self.retryable(queryset))
        self.message_user(request, f"{done} queued to run again now.", messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Each version's deliveries; "retry now" is on the version (it sends every due one)."""

    list_display = [
        "report",
        "destination",
        "institution",
        "state",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["destination", "state", "institution"]
    search_fields = ["=report__exam__exam_uuid", "=remote_id"]
    list_select_related = ["report", "institution"]
