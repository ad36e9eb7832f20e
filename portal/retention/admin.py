from django.contrib import admin

from portal.retention.models import MediaPurge
from portal.work.admin import WorkAdminMixin


@admin.register(MediaPurge)
class MediaPurgeAdmin(WorkAdminMixin, admin.ModelAdmin):
    """Each exam's media purge: what it removed; nothing to edit, a failed one to retry."""

    actions = ["retry_now"]
    list_display = [
        "created_at",
        "institution",
        "exam_id",
        "state",
        "captures_purged",
        "files_deleted",
        "bytes_deleted",
        "attempts",
        "last_error_short",
        "finished_at",
    ]
    list_filter = ["state", "institution", "created_at"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "institution",
        "exam",
        "state",
        "due_at",
        "captures_purged",
        "files_deleted",
        "bytes_deleted",
        "research_files_deleted",
        "created_at",
        "finished_at",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    exclude = ["claimed_until", "last_attempt_at"]

    def retryable(self, queryset):
        return queryset.filter(state=MediaPurge.State.FAILED)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
