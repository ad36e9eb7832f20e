from django.contrib import admin

from integrations.clarius.models import ClariusLink, NotificationEndpoint, NotificationReceipt
from portal.work_admin import WorkAdminMixin


@admin.register(ClariusLink)
class ClariusLinkAdmin(WorkAdminMixin, admin.ModelAdmin):
    retry_task = "integrations.clarius.tasks.confirm_link"
    list_display = [
        "masked_token",
        "user",
        "institution",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error_short",
        "created_at",
    ]
    list_filter = ["state", "institution", "created_at"]
    search_fields = ["user__email", "institution__name"]
    list_select_related = ["user", "institution"]
    actions = ["retry_now"]
    exclude = ["token"]  # the token itself never appears on a page
    readonly_fields = [
        "masked_token",
        "user",
        "institution",
        "state",
        "created_at",
        "updated_at",
        "confirmed_at",
        "ended_at",
        *WorkAdminMixin.work_readonly,
    ]

    def has_add_permission(self, request):
        return False  # links are made by their owners through Clarius' Connect


@admin.register(NotificationReceipt)
class NotificationReceiptAdmin(WorkAdminMixin, admin.ModelAdmin):
    retry_task = "integrations.clarius.tasks.fetch_receipt"
    list_display = [
        "request_uuid",
        "state",
        "source",
        "masked_customer_id",
        "institution_name",
        "received_at",
        "attempts",
        "last_error_short",
        "rejection_reason",
    ]
    list_filter = ["state", "source", "received_at"]
    search_fields = ["=request_uuid", "=exam_uuid", "rejection_reason"]
    list_select_related = ["link__institution"]
    actions = ["retry_now"]
    exclude = ["customer_id"]
    readonly_fields = [
        "request_uuid",
        "exam_uuid",
        "masked_customer_id",
        "download_url",
        "submitted_at",
        "source",
        "state",
        "rejection_reason",
        "link",
        "raw_body",
        "headers",
        "remote_addr",
        "received_at",
        "fetched_at",
        *WorkAdminMixin.work_readonly,
    ]

    @admin.display(description="Institution")
    def institution_name(self, obj):
        return obj.link.institution.name if obj.link else "—"

    def has_add_permission(self, request):
        return False

    def retryable(self, queryset):
        # Rejected receipts stay rejected; unassigned ones wait for their link.
        return queryset.filter(link__isnull=False).exclude(state="rejected")


@admin.register(NotificationEndpoint)
class NotificationEndpointAdmin(admin.ModelAdmin):
    list_display = ["__str__", "is_active", "created_at", "retired_at"]
    exclude = ["secret"]
    readonly_fields = ["is_active", "created_at", "retired_at"]

    def has_add_permission(self, request):
        return False
