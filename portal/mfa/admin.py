"""Second factors in Django admin: a superuser can see a person's factors and remove a
lost one (audited), never read a key. django-otp's own admin pages for its tables are
taken away: they would show the decoy key and the recovery codes' digests."""

import contextlib

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.exams.models import AuditEvent
from portal.mfa.models import AuthenticatorApp, Passkey, RecoveryCodes
from portal.usersessions import audit

for model in (TOTPDevice, StaticDevice):
    with contextlib.suppress(NotRegistered):
        admin.site.unregister(model)


class FactorAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__email", "name"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]
    readonly_fields = fields
    factor = ""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _audit(self, request, obj):
        audit.record(
            request,
            obj.user,
            AuditEvent.Action.MFA_REMOVED,
            factor=self.factor,
            name=obj.name,
            by=request.user.pk,
        )

    def delete_model(self, request, obj):
        self._audit(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("user"):
            self._audit(request, obj)
        super().delete_queryset(request, queryset)


@admin.register(AuthenticatorApp)
class AuthenticatorAppAdmin(FactorAdmin):
    factor = "app"


@admin.register(Passkey)
class PasskeyAdmin(FactorAdmin):
    factor = "passkey"


@admin.register(RecoveryCodes)
class RecoveryCodesAdmin(FactorAdmin):
    factor = "recovery"
