from django.contrib import admin
from django.db.models import Count

from portal.tenants.models import Institution, Membership


# Stacked, not tabular: each field has its own <label> (a tabular row's fields have none).
class MembershipInline(admin.StackedInline):
    model = Membership
    fk_name = "institution"
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "is_trainee", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "time_zone", "member_count", "created_at"]
    list_filter = ["is_active", "created_at"]
    search_fields = ["name", "slug", "memberships__user__email"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_member_count=Count("memberships"))

    @admin.display(description="Members", ordering="_member_count")
    def member_count(self, obj):
        return obj._member_count


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "institution", "role", "is_trainee", "created_at"]
    list_filter = ["role", "is_trainee", "institution"]
    search_fields = ["user__email", "user__full_name", "institution__name", "institution__slug"]
    autocomplete_fields = ["user", "institution"]
    list_select_related = ["user", "institution"]
