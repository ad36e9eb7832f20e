from django.contrib import admin

from portal.notifications.models import Email, Notification
from portal.work.admin import WorkAdminMixin


@admin.register(Email)
class EmailAdmin(WorkAdminMixin, admin.ModelAdmin):
    """What became of each notification email; nothing to edit, a failed one to retry."""

    retry_state = Email.State.QUEUED
    actions = ["retry_now"]
    list_display = [
        "created_at",
        "kind",
        "to",
        "institution",
        "state",
        "attempts",
        "last_error_short",
        "sent_at",
    ]
    list_filter = ["state", "kind", "created_at"]
    search_fields = ["to"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "institution",
        "notification",
        "kind",
        "to",
        "subject",
        "state",
        "created_at",
        "sent_at",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    exclude = ["body", "unsubscribe_url", "claimed_until", "last_attempt_at"]

    def retryable(self, queryset):
        return queryset.filter(state=Email.State.FAILED)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "recipient", "institution", "read_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["recipient__email"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "institution",
        "recipient",
        "kind",
        "exam",
        "title",
        "body",
        "url",
        "key",
        "created_at",
        "read_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
