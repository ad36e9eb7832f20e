from django.contrib import admin

from integrations.webhooks.models import Delivery, Endpoint, Event
from portal.work.admin import WorkAdminMixin


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    """Endpoints are added by institution admins (or ``manage.py webhook add``), where the
    secret is shown once; here they are seen, enabled or disabled, never their secret."""

    list_display = ["url", "institution", "enabled", "events", "failing_since", "last_success_at"]
    list_filter = ["enabled", "institution"]
    search_fields = ["url", "description"]
    fields = [
        "institution",
        "url",
        "description",
        "events",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "last_success_at",
        "secret_rotated_at",
        "previous_secret_expires_at",
        "created_by",
        "created_at",
    ]
    readonly_fields = [
        "institution",
        "url",
        "events",
        "disabled_at",
        "failing_since",
        "last_success_at",
        "secret_rotated_at",
        "previous_secret_expires_at",
        "created_by",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["webhook_id", "type", "institution", "exam", "created_at"]
    list_filter = ["type", "institution"]
    search_fields = ["webhook_id"]
    readonly_fields = ["webhook_id", "type", "institution", "exam", "body", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(WorkAdminMixin, admin.ModelAdmin):
    list_display = [
        "event",
        "endpoint",
        "state",
        "status_code",
        "latency_ms",
        "attempts",
        "next_attempt_at",
        "last_error_short",
    ]
    list_filter = ["state", "institution"]
    search_fields = ["event__webhook_id", "endpoint__url"]
    actions = ["retry_now"]
    readonly_fields = [
        "institution",
        "event",
        "endpoint",
        "state",
        "status_code",
        "latency_ms",
        "response_excerpt",
        "delivered_at",
        "created_at",
        *WorkAdminMixin.work_readonly,
    ]

    def has_add_permission(self, request):
        return False

    def retryable(self, queryset):
        return queryset.exclude(state=Delivery.State.DELIVERED)
