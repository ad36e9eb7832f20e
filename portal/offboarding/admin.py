"""Superusers request an institution's export here; a worker writes it (``tasks``)."""

from django.contrib import admin

from portal import work
from portal.offboarding.models import InstitutionExport
from portal.work import registry


@admin.register(InstitutionExport)
class InstitutionExportAdmin(admin.ModelAdmin):
    list_display = ["institution", "state", "requested_by", "created_at", "finished_at", "size"]
    list_filter = ["state"]
    fields = [
        "institution", "state", "requested_by", "created_at", "finished_at", "path", "size",
        "manifest_sha256", "summary", "attempts", "last_error",
    ]  # fmt: skip
    readonly_fields = [f for f in fields if f != "institution"]

    # A whole institution's record: superusers only, whatever permissions staff hold.
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        obj.requested_by = request.user
        work.schedule_now(obj)
        super().save_model(request, obj, form, change)
        registry.nudge(obj)  # queued once the request's transaction commits
