from django.contrib import admin
from django.urls import path

from integrations.clarius.account import admin_views as account_admin
from integrations.clarius.models import (
    AccountSettings,
    ClariusLink,
    DicomExport,
    NotificationEndpoint,
    NotificationReceipt,
    NotificationRecordLog,
    PresetChange,
    RawDataFile,
    ResearchAccount,
    ServiceApiKey,
)
from portal.work.admin import WorkAdminMixin


@admin.register(ClariusLink)
class ClariusLinkAdmin(WorkAdminMixin, admin.ModelAdmin):
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
        "received_body",
        "headers",
        "remote_addr",
        "received_at",
        "fetched_at",
        *WorkAdminMixin.work_readonly,
    ]

    @admin.display(description="Institution")
    def institution_name(self, obj):
        return obj.link.institution.name if obj.link else "—"

    @admin.display(description="Raw body")
    def received_body(self, obj):
        # Kept as bytes; shown as text with NUL, controls and invalid bytes as escapes.
        return obj.body_text or "—"

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


# --- The service account: custom pages in the Clarius section, superusers only ----------


class AccountPageAdmin(admin.ModelAdmin):
    """An admin entry whose list page is one of ``account_admin``'s views.

    ``page`` replaces the change list; ``actions_urls`` are ``(route, view, name)`` of its
    POST actions, named ``admin:clarius_<model>_<name>``.
    """

    page = None
    action_urls: list = []

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        return type(self).page(request, self)

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"

        def mount(view):
            return self.admin_site.admin_view(lambda request, **kw: view(request, self, **kw))

        custom = [
            path(route, mount(view), name=f"{prefix}_{name}")
            for route, view, name in self.action_urls
        ]
        return custom + super().get_urls()


@admin.register(ServiceApiKey)
class ServiceApiKeyAdmin(AccountPageAdmin):
    page = account_admin.keys_page
    action_urls = [
        ("create/", account_admin.key_create, "create"),
        ("rotate/", account_admin.key_rotate, "rotate"),
        ("revoke/", account_admin.key_revoke, "revoke"),
    ]


@admin.register(AccountSettings)
class AccountSettingsAdmin(AccountPageAdmin):
    page = account_admin.settings_page
    action_urls = [
        ("register/", account_admin.settings_register, "register"),
        ("rotate-secret/", account_admin.settings_rotate_secret, "rotate_secret"),
    ]


@admin.register(NotificationRecordLog)
class NotificationRecordLogAdmin(AccountPageAdmin):
    page = account_admin.records_page
    action_urls = [("ingest/", account_admin.records_ingest, "ingest")]


@admin.register(PresetChange)
class PresetChangeAdmin(AccountPageAdmin):
    page = account_admin.presets_page
    action_urls = [
        ("<str:application_uuid>/edit/", account_admin.preset_edit, "edit"),
        ("<str:application_uuid>/reset/", account_admin.preset_reset, "reset"),
    ]


# --- Research API ----------------------------------------------------------------------


@admin.register(ResearchAccount)
class ResearchAccountAdmin(admin.ModelAdmin):
    list_display = ["user", "username", "connected_at"]
    search_fields = ["user__email", "username"]
    exclude = ["token_encrypted"]  # encrypted, and of no use to anyone on a page
    readonly_fields = ["user", "username", "connected_at"]

    def has_add_permission(self, request):
        return False  # members connect their own account with their password


class ResearchWorkAdmin(WorkAdminMixin, admin.ModelAdmin):
    list_filter = ["state", "institution"]
    list_select_related = ["institution", "exam"]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def retryable(self, queryset):
        return queryset.exclude(state="done")


@admin.register(DicomExport)
class DicomExportAdmin(ResearchWorkAdmin):
    list_display = ["__str__", "institution", "state", "attempts", "last_error_short"]


@admin.register(RawDataFile)
class RawDataFileAdmin(ResearchWorkAdmin):
    list_display = ["__str__", "institution", "state", "attempts", "last_error_short"]
