from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from portal.accounts.addresses import NormalisedEmailField
from portal.accounts.models import PasswordResetRequest, User
from portal.tenants.models import Membership


class AdminEmailAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, with the address normalised and bounded as on the portal's.

    Django's own username field has no length limit, and an over-long name would reach
    the login throttle's table.
    """

    username = NormalisedEmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autofocus": True})
    )


admin.site.login_form = AdminEmailAuthenticationForm


# Stacked, not tabular: each field has its own <label> (a tabular row's fields have none).
class UserMembershipInline(admin.StackedInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["institution"]
    fields = ["institution", "role", "is_trainee", "created_at"]
    readonly_fields = ["created_at"]


class PortalUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]
        # Normalised before the uniqueness check, so another spelling of a taken
        # address is refused here instead of failing on save.
        field_classes = {"email": NormalisedEmailField}


class PortalUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes = {"email": NormalisedEmailField}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = PortalUserChangeForm
    add_form = PortalUserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "institution_count", "is_active", "is_superuser"]
    list_filter = ["is_active", "is_staff", "is_superuser", "memberships__role"]
    search_fields = ["email", "full_name", "memberships__institution__name"]
    readonly_fields = ["last_login", "date_joined"]
    inlines = [UserMembershipInline]
    # Plain labelled multiple selects: Django's two-box filter widget puts aria-label on
    # a <span> without a role, which assistive technology ignores (axe-core refuses it).
    filter_horizontal = ()
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["full_name", "credentials"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {"classes": ["wide"], "fields": ["email", "usable_password", "password1", "password2"]},
        ),
    ]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(_institution_count=Count("memberships"))

    @admin.display(description="Institutions", ordering="_institution_count")
    def institution_count(self, obj):
        return obj._institution_count


@admin.register(PasswordResetRequest)
class PasswordResetRequestAdmin(admin.ModelAdmin):
    """What became of each reset request, refused ones included; nothing to edit."""

    list_display = ["created_at", "email", "client_ip", "state", "attempts", "finished_at"]
    list_filter = ["state", "created_at"]
    search_fields = ["email", "client_ip"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "email",
        "client_ip",
        "state",
        "created_at",
        "finished_at",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
