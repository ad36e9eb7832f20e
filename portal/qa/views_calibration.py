"""QA pages: reviewer calibration, outcomes and outcome-linked accuracy.

- ``/qa/calibration/``: how well QA reviewers agree on blinded double reads (QA leads and
  administrators); aggregate numbers only, never one pair's reads.
- ``/qa/exams/<id>/outcome/``: a reviewer records what the patient turned out to have.
- ``/qa/accuracy/``: each operator's sensitivity and specificity against recorded
  outcomes, and the discordant exams for teaching (QA leads and administrators);
  ``/qa/accuracy/mine/``: an operator's own.
"""

from __future__ import annotations

import csv
import io
import re

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from portal.dashboard.audit_log import safe_cell
from portal.exams.access import audit, visible_exams
from portal.exams.models import AuditEvent
from portal.qa import accuracy as accuracy_report
from portal.qa import calibration, outcomes
from portal.qa.access import member_required, qa_lead_required
from portal.reports.access import can_review

DISCORDANT_PER_PAGE = 25
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class PeriodForm(forms.Form):
    """The date range of a report (both ends optional, inclusive)."""

    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start of the period is after its end.")
        return data


def period(params) -> tuple[PeriodForm, dict]:
    """The period form bound to the query, and its dates (none when it is not valid)."""
    form = PeriodForm(params if ("start" in params or "end" in params) else None)
    if form.is_bound and form.is_valid():
        return form, {"start": form.cleaned_data["start"], "end": form.cleaned_data["end"]}
    return form, {"start": None, "end": None}


def csv_cell(value) -> str:
    """A number stays a number; any text is made safe for spreadsheet programs."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    return text if _NUMBER.match(text) else safe_cell(text)


def csv_response(rows, name: str) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def csv_query(params) -> str:
    """The page's query (its period) asking for the CSV download."""
    query = params.copy()
    query.pop("page", None)
    query["format"] = "csv"
    return query.urlencode()


def _refused(form) -> bool:
    return form.is_bound and not form.is_valid()


@require_GET
@qa_lead_required
def calibration_page(request):
    form, dates = period(request.GET)
    result = calibration.report(calibration.pairs(request.institution.pk, **dates))
    if request.GET.get("format") == "csv" and not _refused(form):
        name = f"qa-calibration-{request.institution.slug}-{timezone.localdate():%Y%m%d}.csv"
        return csv_response(calibration.csv_rows(result), name)
    context = {
        "form": form,
        "report": result,
        "min_pairs": calibration.MIN_PAIRS,
        "csv_query": csv_query(request.GET),
    }
    return render(request, "qa/calibration.html", context, status=400 if _refused(form) else 200)


def _accuracy(request, *, mine: bool):
    form, dates = period(request.GET)
    operator_id = request.user.pk if mine else None
    result = accuracy_report.accuracy(request.institution.pk, operator_id=operator_id, **dates)
    if request.GET.get("format") == "csv" and not _refused(form):
        who = "mine" if mine else request.institution.slug
        name = f"qa-accuracy-{who}-{timezone.localdate():%Y%m%d}.csv"
        return csv_response(accuracy_report.csv_rows(result), name)
    page = Paginator(result.discordant, DISCORDANT_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    context = {
        "form": form,
        "result": result,
        "lines": [
            {
                "line": line,
                "sensitivity": accuracy_report.rate_words(line.accuracy.sensitivity),
                "specificity": accuracy_report.rate_words(line.accuracy.specificity),
            }
            for line in result.lines
        ],
        "page": page,
        "query": query.urlencode(),
        "mine": mine,
        "csv_query": csv_query(request.GET),
    }
    return render(request, "qa/accuracy.html", context, status=400 if _refused(form) else 200)


@require_GET
@qa_lead_required
def accuracy_page(request):
    return _accuracy(request, mine=False)


@require_GET
@member_required
def accuracy_mine(request):
    return _accuracy(request, mine=True)


def outcome_exam(request, exam_id):
    """The exam, for a reviewer or administrator of its institution; 404 for anyone else."""
    if not can_review(request):
        raise Http404("Reviewers and administrators only")
    exams = visible_exams(request).select_related("exam_type", "operator", "findings__template")
    return get_object_or_404(exams, pk=exam_id)


def outcome_rows(fields, findings, results: dict, posted=None, errors=None):
    """One row per finding: the field, the signed read, the result recorded or posted."""
    answers = findings.answers if findings is not None and findings.is_signed else {}
    rows = []
    for field in fields:
        value = answers.get(field.code) if isinstance(answers, dict) else None
        read = outcomes.polarity(field, value)
        chosen = posted.get(field.code, "") if posted is not None else results.get(field.code, "")
        rows.append(
            {
                "field": field,
                "name": f"result_{field.code}",
                "read": field.display(value) if value not in (None, "", []) else "",
                "read_result": outcomes.RESULT_LABELS.get(read, ""),
                "chosen": chosen if chosen in outcomes.RESULT_LABELS else "",
                "error": (errors or {}).get(f"results.{field.code}", ""),
                "words": outcomes.result_words(field),
            }
        )
    return rows


@require_http_methods(["GET", "POST"])
@member_required
def outcome_page(request, exam_id):
    exam = outcome_exam(request, exam_id)
    findings = getattr(exam, "findings", None) if hasattr(exam, "findings") else None
    sheet = outcomes.worksheet_of(findings, exam)
    fields = outcomes.finding_fields(sheet)
    existing = getattr(exam, "outcome", None) if hasattr(exam, "outcome") else None
    errors: dict = {}
    status = 200
    posted = None
    source = existing.source if existing else ""
    note = existing.note if existing else ""
    if request.method == "POST":
        posted = {f.code: request.POST.get(f"result_{f.code}", "") for f in fields}
        unknown = sorted(
            key[len("result_") :]
            for key in request.POST
            if key.startswith("result_") and key[len("result_") :] not in posted
        )
        raw = {**posted, **{code: request.POST[f"result_{code}"] for code in unknown}}
        source = request.POST.get("source", "")
        note = request.POST.get("note", "")
        cleaned, errors = outcomes.check(fields, source, note, raw)
        if not errors:
            outcomes.record(request, exam, cleaned)
            return redirect("qa-outcome", exam_id=exam.pk)
        status = 400
        source = source.replace("\x00", "")[: outcomes.SOURCE_LIMIT]
        note = note.replace("\x00", "")[: outcomes.NOTE_LIMIT]
    else:
        audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="qa_outcome")
    context = {
        "exam": exam,
        "findings": findings,
        "outcome": existing,
        "rows": outcome_rows(
            fields, findings, existing.results if existing else {}, posted, errors
        ),
        "source": source,
        "note": note,
        "errors": errors,
        "source_limit": outcomes.SOURCE_LIMIT,
        "note_limit": outcomes.NOTE_LIMIT,
    }
    return render(request, "qa/outcome.html", context, status=status)
