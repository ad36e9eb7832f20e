"""The exam page and the review actions on it.

Every view starts from ``exam_or_404`` / ``exam_for_review`` (tenant rule, then role
rule). Actions are POSTs that redirect back to the page (post/redirect/get); an invalid
form re-renders the page with its errors and a 400.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from portal.exams.access import audit
from portal.exams.models import AuditEvent, Patient
from portal.reports.access import can_review, exam_for_review, exam_or_404
from portal.reports.forms import AddendumForm, FindingsForm
from portal.reports.issuing import ReportRefused, retry_report
from portal.reports.models import Report
from portal.reports.review import (
    ReviewRefused,
    StaleFindings,
    add_addendum,
    assign_to,
    findings_of,
    findings_version,
    save_findings,
    sign_findings,
)


@login_required
@require_GET
def exam_detail(request, pk):
    exam = exam_or_404(request, pk)
    audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="exam_page")
    return render_exam_page(request, exam)


def render_exam_page(request, exam, *, findings_form=None, addendum_form=None, status=200):
    findings = findings_of(exam)
    reviewer = can_review(request)
    if reviewer and not findings.is_signed:
        findings_form = findings_form or FindingsForm(instance=findings)
    if reviewer and findings.is_signed:
        addendum_form = addendum_form or AddendumForm()
    try:
        patient = exam.patient
    except Patient.DoesNotExist:
        patient = None
    context = {
        "exam": exam,
        "patient": patient,
        "submissions": exam.submissions.all(),
        "captures": captures_page(request, exam),
        "findings": findings,
        "findings_form": findings_form,
        "addenda": exam.addenda.select_related("signed_by"),
        "addendum_form": addendum_form,
        "reports": exam.reports.select_related("created_by").order_by("-version"),
        "can_review": reviewer,
    }
    return render(request, "reports/exam_detail.html", context, status=status)


# The gallery shows this many captures a page; an exam may hold thousands.
CAPTURES_PER_PAGE = 48
CAPTURES_PAGE_PARAM = "captures"


def captures_page(request, exam):
    """One page of the exam's captures (a count and a slice, never every row), and the
    links to the other pages. A page number that is not one is the first page; one past
    the end is the last."""
    captures = exam.captures.filter(duplicate_of__isnull=True).order_by(
        "submission__submitted_at", "position", "id"
    )
    page = Paginator(captures, CAPTURES_PER_PAGE).get_page(request.GET.get(CAPTURES_PAGE_PARAM))

    def link(number):
        # The exam page takes no other query parameters; none are carried over.
        return f"?{CAPTURES_PAGE_PARAM}={number}#captures-title"

    if page.paginator.num_pages > 1:
        page.links = {
            "first": link(1) if page.number > 2 else None,
            "previous": link(page.previous_page_number()) if page.has_previous() else None,
            "next": link(page.next_page_number()) if page.has_next() else None,
            "last": link(page.paginator.num_pages)
            if page.number < page.paginator.num_pages - 1
            else None,
        }
    return page


@login_required
@require_POST
def exam_assign(request, pk):
    """ "Assign to me": the worklist links here too, and may ask to be sent back (``next``)."""
    exam = exam_for_review(request, pk)
    assign_to(exam, request.user)
    messages.success(request, "The exam is assigned to you.")
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return redirect(next_url)
    return redirect("exam-detail", exam.pk)


@login_required
@require_POST
def findings_save(request, pk):
    exam = exam_for_review(request, pk)
    form = FindingsForm(request.POST, instance=findings_of(exam))
    if not form.is_valid():
        return render_exam_page(request, exam, findings_form=form, status=400)
    try:
        save_findings(form.instance, request.user, expected_version=form.expected_version())
    except StaleFindings as e:
        return stale_findings_page(request, exam, e)
    except ReviewRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "Findings saved (draft).")
    return redirect(reverse("exam-detail", args=[exam.pk]) + "#findings")


@login_required
@require_POST
def findings_sign(request, pk):
    """Sign the worksheet; the "Sign" button posts the form as it stands, saved first."""
    exam = exam_for_review(request, pk)
    findings = findings_of(exam)
    expected_version = None
    if "impression" in request.POST and not findings.is_signed:
        form = FindingsForm(request.POST, instance=findings)
        if not form.is_valid():
            return render_exam_page(request, exam, findings_form=form, status=400)
        expected_version = form.expected_version()
    try:
        report = sign_findings(findings, request.user, expected_version=expected_version)
    except StaleFindings as e:
        return stale_findings_page(request, exam, e)
    except (ReviewRefused, ReportRefused) as e:
        messages.error(request, str(e))
        return redirect(reverse("exam-detail", args=[exam.pk]) + "#findings")
    messages.success(request, f"Signed. “{report.name}” is being made, then it goes to Clarius.")
    return redirect(reverse("exam-detail", args=[exam.pk]) + "#reports")


def stale_findings_page(request, exam, error: StaleFindings):
    """Someone else saved (or signed) the worksheet since this page was loaded: the page
    again, with the person's text kept in the form, unsaved, and the reason; its version
    is now the current one, so saving again is a deliberate choice over the other edits."""
    exam.refresh_from_db()
    exam._state.fields_cache.pop("findings", None)  # read the worksheet again
    findings = findings_of(exam)
    if findings.is_signed:
        messages.error(request, str(error))
        return redirect(reverse("exam-detail", args=[exam.pk]) + "#findings")
    data = request.POST.copy()
    data["version"] = findings_version(error.current)
    form = FindingsForm(data, instance=findings)
    form.is_valid()
    form.add_error(None, str(error))
    return render_exam_page(request, exam, findings_form=form, status=409)


@login_required
@require_POST
def addendum_add(request, pk):
    exam = exam_for_review(request, pk)
    form = AddendumForm(request.POST)
    if not form.is_valid():
        return render_exam_page(request, exam, addendum_form=form, status=400)
    try:
        addendum, report = add_addendum(exam, request.user, form.cleaned_data["text"])
    except (ReviewRefused, ReportRefused) as e:
        messages.error(request, str(e))
        return redirect(reverse("exam-detail", args=[exam.pk]) + "#addenda")
    messages.success(
        request,
        f"Addendum {addendum.number} added. “{report.name}” is being made, "
        "then it goes to Clarius.",
    )
    return redirect(reverse("exam-detail", args=[exam.pk]) + "#reports")


@login_required
@require_POST
def report_retry(request, pk, report_id):
    exam = exam_for_review(request, pk)
    report = get_object_or_404(exam.reports.all(), pk=report_id)
    if retry_report(report):
        messages.success(request, f"“{report.name}” is being sent to Clarius again.")
    else:
        messages.info(request, f"“{report.name}” is being sent right now or was sent already.")
    return redirect(reverse("exam-detail", args=[exam.pk]) + "#reports")


@login_required
@require_GET
def exam_reports_json(request, pk):
    """What the exam page polls while a report is on its way (see static/js/exam.js)."""
    exam = exam_or_404(request, pk)
    reports = [report_json(r) for r in exam.reports.order_by("-version")]
    return JsonResponse(
        {
            "review_state": exam.review_state,
            "review_state_label": exam.get_review_state_display(),
            "pending": any(r["state"] in Report.UNDER_WAY for r in reports),
            "reports": reports,
        },
        headers={"Cache-Control": "no-store"},
    )


def report_json(report):
    return {
        "id": report.pk,
        "version": report.version,
        "name": report.name,
        "state": report.state,
        "state_label": report.state_label,
        "attempts": report.attempts,
        "last_error": report.last_error,
        "next_attempt_at": report.next_attempt_at,
        "pushed_at": report.pushed_at,
        "can_retry": report.can_retry,
        "has_pdf": report.has_pdf,
    }
