from django.contrib import admin

from portal.sso.models import SsoIdentity


@admin.register(SsoIdentity)
class SsoIdentityAdmin(admin.ModelAdmin):
    """Superusers link a provider identity to an account by hand (the address is never
    enough for a superuser's or staff account), or unlink one."""

    list_display = ["user", "issuer", "subject", "created_at", "last_login_at"]
    search_fields = ["user__email", "subject"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at", "last_login_at"]
