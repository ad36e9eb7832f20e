"""The QA program's settings page: QA leads and administrators set the institution's
rules and, per exam type in use, the QA-passed exams required and the extra questions."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render

from portal.qa.access import qa_lead_required
from portal.qa.forms import (
    ExamTypeQAForm,
    QASettingsForm,
    current_settings,
    initial_for,
    save_exam_type,
    save_settings,
)
from portal.qa.models import ExamTypeQA, default_required
from portal.tenants.models import Membership
from portal.tenants.roles import REVIEWING_ROLES
from portal.worksheets.models import ExamType


def active_exam_types(institution):
    return list(ExamType.objects.for_institution(institution).filter(is_active=True))


def _type_forms(request, exam_types, data=None):
    rows = {
        row.exam_type_id: row
        for row in ExamTypeQA.objects.for_institution(request.institution).filter(
            exam_type__in=exam_types
        )
    }
    forms = []
    for exam_type in exam_types:
        row = rows.get(exam_type.pk) or ExamTypeQA(
            exam_type=exam_type, required_passed=default_required(exam_type.code)
        )
        forms.append(ExamTypeQAForm(data, exam_type=exam_type, initial=initial_for(row)))
    return forms


@qa_lead_required
def qa_settings(request):
    settings = current_settings(request)
    exam_types = active_exam_types(request.institution)
    data = request.POST if request.method == "POST" else None
    form = QASettingsForm(data, instance=settings)
    type_forms = _type_forms(request, exam_types, data)
    if request.method == "POST" and form.is_valid() and all(f.is_valid() for f in type_forms):
        with transaction.atomic():
            changed = bool(save_settings(request, form))
            for type_form in type_forms:
                changed |= bool(
                    save_exam_type(
                        request,
                        type_form.exam_type,
                        type_form.cleaned_data["required_passed"],
                        type_form.cleaned_data["questions"],
                    )
                )
        messages.success(
            request, "The QA settings are saved." if changed else "Nothing was changed."
        )
        return redirect("qa-settings")
    has_errors = bool(form.errors) or any(f.errors for f in type_forms)
    members = (
        Membership.objects.for_institution(request.institution)
        .filter(role__in=REVIEWING_ROLES)
        .select_related("user")
    )
    context = {
        "form": form,
        "type_forms": type_forms,
        "has_errors": has_errors,
        "reviewers": members.filter(is_qa_reviewer=True).order_by("user__email"),
        "leads": members.filter(is_qa_lead=True).order_by("user__email"),
        "is_admin": request.membership.role == Membership.Role.ADMIN,
    }
    return render(request, "qa/setup_settings.html", context, status=400 if has_errors else 200)
