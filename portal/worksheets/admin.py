"""Exam types in Django admin, with the portal page's rules: a definition is checked by
the engine, and a changed one is saved as the next version (versions are never edited
here either; they are listed read-only under their exam type)."""

import json

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Max
from django.http import HttpResponseRedirect
from django.utils.html import format_html

from portal.worksheets.forms import ExamTypeAdminForm, SavedMeanwhile, add_version
from portal.worksheets.models import ExamType, WorksheetTemplate


class WorksheetTemplateInline(admin.TabularInline):
    model = WorksheetTemplate
    fields = ["version", "created_by", "created_at", "summary"]
    readonly_fields = fields
    ordering = ["-version"]
    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="worksheet")
    def summary(self, obj):
        definition = obj.definition if isinstance(obj.definition, dict) else {}
        sections = definition.get("sections") or []
        fields = sum(len(s.get("fields") or []) for s in sections if isinstance(s, dict))
        views = len(definition.get("views") or [])
        return f"{len(sections)} sections, {fields} fields, {views} views"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ExamType)
class ExamTypeAdmin(admin.ModelAdmin):
    form = ExamTypeAdminForm
    list_display = [
        "name",
        "code",
        "institution",
        "current_version",
        "is_active",
        "exam_count",
        "updated_at",
    ]
    list_filter = ["institution", "is_active"]
    search_fields = ["name", "code", "institution__slug", "institution__name"]
    list_select_related = ["institution"]
    inlines = [WorksheetTemplateInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                latest_version=Max("templates__version"),
                exams_using=Count("exams", distinct=True),
            )
        )

    @admin.display(description="worksheet version", ordering="latest_version")
    def current_version(self, obj):
        return obj.latest_version

    @admin.display(description="exams", ordering="exams_using")
    def exam_count(self, obj):
        return obj.exams_using

    def get_fields(self, request, obj=None):
        fields = ["institution", "code", "name", "clarius_applications", "cpt_codes"]
        return [*fields, "is_active", "definition", "based_on"]

    def get_readonly_fields(self, request, obj=None):
        # The institution and code of a saved type stay: exams, the API and worksheets
        # name them.
        return ["institution", "code"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            try:
                template = form.save_version(request.user)
            except SavedMeanwhile as e:
                # Nothing is saved; the admin sees why instead of a 500.
                self.message_user(
                    request,
                    f"Someone saved version {e.version} meanwhile: your change is not saved.",
                    messages.ERROR,
                )
                request.worksheet_saved_meanwhile = True
                return
            # Retire / restore is the admin's own field here.
            ExamType.objects.filter(pk=obj.pk).update(is_active=form.cleaned_data["is_active"])
        else:
            with transaction.atomic():
                obj.clarius_applications = form.cleaned_data["clarius_applications"]
                obj.cpt_codes = form.cleaned_data["cpt_codes"]
                obj.save()
                template = add_version(obj, 1, form.parsed_definition, request.user)
        if template:
            self.message_user(request, f"Worksheet version {template.version} saved.")

    def response_change(self, request, obj):
        if getattr(request, "worksheet_saved_meanwhile", False):
            # Back to the form, without Django's "changed successfully".
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


@admin.register(WorksheetTemplate)
class WorksheetTemplateAdmin(admin.ModelAdmin):
    """Versions, read only: a new one is made by editing its exam type."""

    list_display = ["exam_type", "version", "institution", "created_by", "created_at"]
    list_filter = ["institution"]
    search_fields = ["exam_type__name", "exam_type__code", "institution__slug"]
    list_select_related = ["exam_type", "institution", "created_by"]
    fields = ["institution", "exam_type", "version", "created_by", "created_at", "shown"]
    readonly_fields = fields

    @admin.display(description="definition")
    def shown(self, obj):
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.definition, indent=2, ensure_ascii=False)
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
