from django.contrib import admin

from portal.usersessions.models import UserSession
from portal.usersessions.services import end


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ["user", "device", "ip_address", "created_at", "last_active_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "ip_address"]
    readonly_fields = ["user", "device", "user_agent", "ip_address", "created_at", "last_active_at"]
    exclude = ["key_hash"]
    actions = ["sign_out"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_queryset(self, request, queryset):
        end(list(queryset))

    def delete_model(self, request, obj):
        end([obj])

    @admin.action(description="Sign out the selected sessions")
    def sign_out(self, request, queryset):
        count = end(list(queryset))
        self.message_user(request, f"{count} session(s) signed out.")
