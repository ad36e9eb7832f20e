from django.contrib import admin, messages

from portal.accounts.throttle import client_ip
from portal.api import keys
from portal.api.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made on the institution's page or with ``manage.py apikey``; here they are
    only listed and, when needed, revoked (the row stays, for the audit log)."""

    list_display = [
        "name",
        "shown_prefix",
        "institution",
        "user",
        "scope",
        "state_label",
        "created_at",
        "last_used_at",
        "last_used_ip",
    ]
    list_filter = ["scope", "institution", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__email", "institution__slug"]
    list_select_related = ["institution", "user", "membership"]
    readonly_fields = [f.name for f in ApiKey._meta.fields if f.name != "secret_hash"]
    exclude = ["secret_hash"]
    actions = ["revoke"]

    @admin.display(description="key")
    def shown_prefix(self, obj):
        return f"{obj.shown_prefix}_…"

    @admin.display(description="state")
    def state_label(self, obj):
        return obj.state_label()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        revoked = sum(
            keys.revoke_key(key, by=request.user, ip_address=client_ip(request), via="admin")
            for key in queryset.select_related("user")
        )
        self.message_user(request, f"{revoked} key(s) revoked.", messages.SUCCESS)
