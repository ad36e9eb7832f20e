"""The institution administrator's exam types: list, edit with a live preview, version
history, copy, retire and restore.

Administrators of the current institution only (a 404 for anyone else, as on every
institution page); another institution's exam type is a 404 too. The preview is drawn
by the server (``POST preview/``) with the same template the page uses without
JavaScript, so what the administrator sees is what the engine reads.
"""

import logging

from django.contrib import messages
from django.db.models import Count, IntegerField, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.exams.access import audit
from portal.exams.models import AuditEvent, Exam
from portal.tenants.roles import admin_required
from portal.tenants.scoping import get_scoped_or_404, scoped_to_request
from portal.worksheets.engine import DefinitionError, Worksheet
from portal.worksheets.forms import CopyForm, ExamTypeForm, SavedMeanwhile, pretty, read_definition
from portal.worksheets.models import ExamType, WorksheetTemplate

logger = logging.getLogger(__name__)


def _exam_counts(request):
    """How many of the institution's exams use each exam type, as a subquery."""
    exams = (
        scoped_to_request(Exam, request)
        .filter(exam_type=OuterRef("pk"))
        .order_by()
        .values("exam_type")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(exams, output_field=IntegerField()), 0)


@admin_required
def exam_type_list(request):
    exam_types = scoped_to_request(ExamType, request).annotate(
        exam_count=_exam_counts(request), current_version=Max("templates__version")
    )
    return render(request, "worksheets/exam_type_list.html", {"exam_types": exam_types})


def _posted(request):
    """The POST's data to bind a form to, even when empty (an empty POST is a 400)."""
    return request.POST if request.method == "POST" else None


def _worksheet(definition):
    """``(Worksheet, [])`` or ``(None, errors)`` for a definition already parsed."""
    try:
        return Worksheet(definition), []
    except DefinitionError as e:
        return None, e.errors


@admin_required
def exam_type_edit(request, pk):
    exam_type = get_scoped_or_404(ExamType, request, pk=pk)
    form = ExamTypeForm(_posted(request), instance=exam_type)
    status = 200
    worksheet, preview_errors = None, []
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        elif "preview" not in request.POST:
            try:
                template = form.save_version(request.user)
            except SavedMeanwhile as e:
                form.add_error(
                    None,
                    f"Someone saved version {e.version} of this worksheet while you were "
                    "editing: nothing of yours is saved. Copy your definition, reload the "
                    "page and make your change to their version.",
                )
                status = 409
            else:
                audit(
                    request,
                    AuditEvent.Action.EDIT_EXAM_TYPE,
                    exam_type,
                    code=exam_type.code,
                    version=template.version if template else None,
                )
                logger.info(
                    "institution %s: exam type %s saved by user %s%s",
                    request.institution.slug,
                    exam_type.pk,
                    request.user.pk,
                    f", worksheet version {template.version}" if template else "",
                )
                messages.success(
                    request,
                    f"{form.instance.name} is saved; its worksheet is now version "
                    f"{template.version}."
                    if template
                    else f"{form.instance.name} is saved; its worksheet is unchanged.",
                )
                return redirect("exam-type-edit", pk=exam_type.pk)
        if form.parsed_definition is not None:
            worksheet, preview_errors = _worksheet(form.parsed_definition)
        else:
            _, preview_errors = read_definition(request.POST.get("definition", ""))
    else:
        current = form.current
        worksheet, preview_errors = _worksheet(current.definition if current else {})
    context = {
        "exam_type": exam_type,
        "form": form,
        "worksheet": worksheet,
        "preview_errors": preview_errors,
        "versions": exam_type.templates.select_related("created_by").order_by("-version"),
        "exam_count": scoped_to_request(Exam, request).filter(exam_type=exam_type).count(),
    }
    return render(request, "worksheets/exam_type_edit.html", context, status=status)


@never_cache
@require_POST
@admin_required
def preview(request):
    """The worksheet a definition makes, as an HTML fragment (400: its errors listed)."""
    definition, errors = read_definition(request.POST.get("definition", ""))
    worksheet = None
    if definition is not None:
        worksheet, errors = _worksheet(definition)
    html = render_to_string(
        "worksheets/includes/preview_result.html",
        {"worksheet": worksheet, "preview_errors": errors},
        request=request,
    )
    return HttpResponse(html, status=400 if errors else 200)


@admin_required
def exam_type_version(request, pk, version):
    exam_type = get_scoped_or_404(ExamType, request, pk=pk)
    template = get_scoped_or_404(
        WorksheetTemplate.objects.select_related("created_by"),
        request,
        exam_type=exam_type,
        version=version,
    )
    worksheet, errors = _worksheet(template.definition)
    context = {
        "exam_type": exam_type,
        "template": template,
        "is_current": template.version == exam_type.templates.aggregate(v=Max("version"))["v"],
        "worksheet": worksheet,
        "preview_errors": errors,
        "definition_json": pretty(template.definition),
    }
    return render(request, "worksheets/exam_type_version.html", context)


@admin_required
def exam_type_copy(request, pk):
    source = get_scoped_or_404(ExamType, request, pk=pk)
    form = CopyForm(_posted(request), source=source)
    if request.method == "POST" and form.is_valid():
        try:
            copy = form.save(request.user)
        except ValueError:
            pass  # the code was taken meanwhile: the form says so
        else:
            audit(
                request,
                AuditEvent.Action.EDIT_EXAM_TYPE,
                copy,
                code=copy.code,
                copied_from=source.code,
            )
            logger.info(
                "institution %s: exam type %s copied to %s by user %s",
                request.institution.slug,
                source.pk,
                copy.pk,
                request.user.pk,
            )
            messages.success(
                request,
                f"{copy.name} is made from {source.name}. Add the Clarius applications that "
                "should propose it.",
            )
            return redirect("exam-type-edit", pk=copy.pk)
    status = 400 if form.errors else 200
    return render(
        request, "worksheets/exam_type_copy.html", {"source": source, "form": form}, status=status
    )


def _set_active(request, pk, active):
    exam_type = get_scoped_or_404(ExamType, request, pk=pk)
    if exam_type.is_active != active:
        exam_type.is_active = active
        exam_type.save(update_fields=["is_active", "updated_at"])
        audit(
            request, AuditEvent.Action.EDIT_EXAM_TYPE, exam_type, code=exam_type.code, in_use=active
        )
        logger.info(
            "institution %s: exam type %s %s by user %s",
            request.institution.slug,
            exam_type.pk,
            "restored" if active else "retired",
            request.user.pk,
        )
    if active:
        messages.success(request, f"{exam_type.name} is in use again: offered for new exams.")
    else:
        messages.success(
            request,
            f"{exam_type.name} is retired: not offered for new exams; exams that use it keep it.",
        )
    return redirect("exam-type-list")


@require_POST
@admin_required
def exam_type_retire(request, pk):
    return _set_active(request, pk, False)


@require_POST
@admin_required
def exam_type_restore(request, pk):
    return _set_active(request, pk, True)
