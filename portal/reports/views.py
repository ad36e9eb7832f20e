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
from portal.exams.captures import DEFAULT_KEY_IMAGES, stills
from portal.exams.models import AuditEvent, Patient
from portal.qa import privileges
from portal.reports.access import can_review, exam_for_review, exam_or_404
from portal.reports.forms import AddendumForm, FindingsForm
from portal.reports.issuing import ReportRefused, retry_report
from portal.reports.models import Report
from portal.reports.reading import exam_url, from_of, list_url, next_exam_url, reading_nav
from portal.reports.review import (
    IncompleteWorksheet,
    ReviewRefused,
    StaleFindings,
    add_addendum,
    assign_to,
    attest_findings,
    completeness_errors,
    findings_of,
    findings_version,
    missing_captures,
    save_findings,
    sign_findings,
    worksheet_of,
)
from portal.reports.states import report_state
from portal.worksheets.engine import Worksheet


@login_required
@require_GET
def exam_detail(request, pk):
    exam = exam_or_404(request, pk)
    audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="exam_page")
    return render_exam_page(request, exam)


def render_exam_page(request, exam, *, findings_form=None, addendum_form=None, status=200):
    findings = findings_of(exam)
    reviewer = can_review(request)
    captures = captures_page(request, exam)
    if reviewer and can_edit(request, exam, findings):
        findings_form = findings_form or FindingsForm(
            instance=findings, scope=[c.pk for c in captures]
        )
        key_fields = findings_form.key_fields()
        for capture in captures:
            capture.key_fields = key_fields.get(capture.pk)
    if reviewer and findings.is_signed and not findings.awaiting_attestation:
        addendum_form = addendum_form or AddendumForm(exam=exam)
    try:
        patient = exam.patient
    except Patient.DoesNotExist:
        patient = None
    context = {
        "exam": exam,
        "patient": patient,
        "submissions": exam.submissions.all(),
        "captures": captures,
        "findings": findings,
        "findings_form": findings_form,
        "worksheet": worksheet_summary(findings),
        "addenda": exam.addenda.select_related("signed_by").prefetch_related("captures"),
        "addendum_form": addendum_form,
        "reports": exam.reports.select_related("created_by").order_by("-version"),
        "can_review": reviewer,
        "attesting": reviewer and findings.awaiting_attestation,
        "reading": reading_nav(request, exam),
    }
    return render(request, "reports/exam_detail.html", context, status=status)


def can_edit(request, exam, findings) -> bool:
    """The worksheet is editable: a draft, or a trainee's signed worksheet to an
    attending who has not attested it yet."""
    if not findings.is_signed:
        return True
    if not findings.awaiting_attestation or findings.signed_by_id == request.user.pk:
        # Nobody attests their own preliminary signature (portal.reports.review).
        return False
    return not privileges.is_trainee(request.user.pk, exam.institution_id)


def worksheet_summary(findings):
    """What a signed (or previewed) worksheet reads as: its sections (answered fields
    only), its views, its key images; drawn with the template version it is on."""
    sheet = worksheet_of(findings)
    if sheet is None:
        return None
    return {
        "exam_type": findings.template.exam_type,
        "version": findings.template.version,
        "sections": sheet.sections_answered(findings.answers or {}),
        "views": sheet.views_recorded(findings.views or {}),
    }


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
    page.object_list = list(page.object_list)  # read once; the key-image boxes go on these

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
    audit(request, AuditEvent.Action.ASSIGN_EXAM, exam, reviewer=request.user.pk)
    messages.success(request, "The exam is assigned to you.")
    next_url = request.POST.get("next") or exam_url(exam.pk, from_of(request))
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return redirect(next_url)
    return redirect("exam-detail", exam.pk)


@login_required
@require_POST
def findings_save(request, pk):
    """Save the draft. The page's autosave posts here too (``X-Portal-Autosave``) and
    gets JSON back; a "Normal" button (``normal`` = a section code, without JavaScript)
    fills that section with its normal findings first."""
    exam = exam_for_review(request, pk)
    autosave = request.headers.get("X-Portal-Autosave") == "1"
    form = FindingsForm(request.POST, instance=findings_of(exam))
    if not form.is_valid():
        if autosave:
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        return render_exam_page(request, exam, findings_form=form, status=400)
    section = request.POST.get("normal")
    if section and form.sheet is not None and form.template == form.instance.template:
        form.instance.answers = {**form.instance.answers, **form.sheet.normal(section)}
    try:
        save_findings(form.instance, request.user, expected_version=form.expected_version())
    except StaleFindings as e:
        if autosave:
            return JsonResponse({"error": str(e)}, status=409)
        return stale_findings_page(request, exam, e)
    except ReviewRefused as e:
        if autosave:
            return JsonResponse({"error": str(e)}, status=409)
        messages.error(request, str(e))
        return redirect(reverse("exam-detail", args=[exam.pk]) + "#findings")
    if autosave:
        saved_at = form.instance.updated_at
        return JsonResponse(
            {
                "version": findings_version(form.instance),
                "saved_at": saved_at.isoformat(),
                "dropped": form.dropped,
            },
            headers={"Cache-Control": "no-store"},
        )
    if form.dropped:
        messages.warning(
            request,
            "Saved with the new exam type. These answers did not fit its worksheet and "
            f"were left out: {', '.join(form.dropped)}.",
        )
    else:
        messages.success(request, "Findings saved (draft).")
    return redirect(exam_url(exam.pk, from_of(request), "#findings"))


@login_required
@require_POST
def findings_impression(request, pk):
    """The interpretation the answers on the page give (the template's rules); nothing
    is saved. The page's "Write from the answers" button asks for it."""
    exam = exam_for_review(request, pk)
    form = FindingsForm(request.POST, instance=findings_of(exam))
    if not form.is_valid() or form.instance.template is None:
        return JsonResponse(
            {"error": "Choose the exam type and correct the worksheet's errors first."},
            status=400,
        )
    sheet = Worksheet(form.instance.template.definition)
    return JsonResponse({"impression": sheet.build_impression(form.instance.answers)})


@login_required
@require_POST
def findings_review(request, pk):
    """ "Review and sign" (or attest): the draft is saved as it stands, then the report is
    shown as it will read, with the button that signs it. An incomplete worksheet comes
    back with each missing field marked."""
    exam = exam_for_review(request, pk)
    findings = findings_of(exam)
    form = FindingsForm(request.POST, instance=findings)
    if not form.is_valid():
        return render_exam_page(request, exam, findings_form=form, status=400)
    try:
        save_findings(form.instance, request.user, expected_version=form.expected_version())
    except StaleFindings as e:
        return stale_findings_page(request, exam, e)
    except ReviewRefused as e:
        messages.error(request, str(e))
        return redirect(reverse("exam-detail", args=[exam.pk]) + "#findings")
    errors = completeness_errors(form.instance)
    if errors:
        form = FindingsForm(instance=form.instance)
        mark_incomplete(form, errors)
        return render_exam_page(request, exam, findings_form=form, status=400)
    findings = form.instance
    context = {
        "exam": exam,
        "patient": getattr(exam, "patient", None),
        "findings": findings,
        "worksheet": worksheet_summary(findings),
        "key_images": chosen_key_images(exam, findings),
        "version": findings_version(findings),
        "attesting": findings.awaiting_attestation,
        "statement": exam.institution.attestation_statement,
        # A trainee, or an operator without privileges for the exam type (portal.qa).
        "signer_is_trainee": privileges.needs_attestation(request.user.pk, exam),
        "missing_captures": missing_captures(exam.pk),
        "from": from_of(request),
    }
    return render(request, "reports/sign_confirm.html", context)


def chosen_key_images(exam, findings):
    """The key images the report will show, with their captions."""
    candidates = stills(exam)
    chosen = findings.key_images or {}
    if chosen:
        return [(c, chosen[str(c.pk)]) for c in candidates.filter(pk__in=[int(k) for k in chosen])]
    return [(c, "") for c in candidates[:DEFAULT_KEY_IMAGES]]


def mark_incomplete(form, errors: dict[str, str]) -> None:
    form.is_bound = False  # the errors below are the only ones shown
    form._errors = {}
    for code, message in errors.items():
        name = form._field_name(code)
        if code == "impression":
            name = "impression"
        form._errors.setdefault(name or "__all__", form.error_class()).append(message)
    form._errors.setdefault("__all__", form.error_class()).insert(
        0, "The worksheet is not complete: each field marked below is needed before signing."
    )


@login_required
@require_POST
def findings_sign(request, pk):
    """Sign the worksheet as saved (the confirmation page's button, with the version it
    showed); a post of the whole form (an older page) is saved first."""
    exam = exam_for_review(request, pk)
    findings = findings_of(exam)
    expected_version = request.POST.get("version") or None
    if "impression" in request.POST and not findings.is_signed:
        form = FindingsForm(request.POST, instance=findings)
        if not form.is_valid():
            return render_exam_page(request, exam, findings_form=form, status=400)
        expected_version = form.expected_version()
    without_missing = request.POST.get("sign_without_missing_captures") == "1"
    try:
        report = sign_findings(
            findings,
            request.user,
            expected_version=expected_version,
            without_missing_captures=without_missing,
        )
    except StaleFindings as e:
        return stale_findings_page(request, exam, e)
    except IncompleteWorksheet as e:
        form = FindingsForm(instance=findings_of(exam))
        mark_incomplete(form, e.errors)
        return render_exam_page(request, exam, findings_form=form, status=400)
    except (ReviewRefused, ReportRefused) as e:
        messages.error(request, str(e))
        return redirect(reverse("exam-detail", args=[exam.pk]) + "#findings")
    audit(
        request,
        AuditEvent.Action.SIGN_FINDINGS,
        exam,
        report_version=report.version if report else None,
        preliminary=findings_of(exam).signed_as_trainee,
        **signed_without(findings),
    )
    if report is None:
        messages.success(
            request, "Signed as preliminary: the report goes out once an attending attests it."
        )
    else:
        messages.success(
            request, f"Signed. “{report.name}” is being made, then it goes to Clarius."
        )
    if request.POST.get("then") == "next":
        return redirect(next_exam_url(request, exam) or worklist_when_done(request))
    return redirect(exam_url(exam.pk, from_of(request), "#reports"))


def signed_without(findings) -> dict:
    """The audit's note of captures that were missing when the reviewer chose to sign."""
    missing = getattr(findings, "missing_captures_at_signing", 0)
    return {"missing_captures": missing} if missing else {}


def worklist_when_done(request) -> str:
    """ "Sign and next" at the end of the list: back to it, saying so."""
    messages.info(request, "No other exam of this list needs review.")
    return list_url(request)


@login_required
@require_POST
def findings_attest(request, pk):
    """An attending attests a trainee's signed worksheet (as saved, at the version the
    confirmation page showed)."""
    exam = exam_for_review(request, pk)
    findings = findings_of(exam)
    try:
        report = attest_findings(
            findings, request.user, expected_version=request.POST.get("version") or None
        )
    except StaleFindings as e:
        messages.error(request, str(e))
        return redirect(reverse("exam-detail", args=[exam.pk]) + "#findings")
    except (ReviewRefused, ReportRefused) as e:
        messages.error(request, str(e))
        return redirect(reverse("exam-detail", args=[exam.pk]) + "#findings")
    audit(request, AuditEvent.Action.ATTEST_FINDINGS, exam, report_version=report.version)
    messages.success(request, f"Attested. “{report.name}” is being made, then it goes to Clarius.")
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
    form = AddendumForm(request.POST, exam=exam)
    if not form.is_valid():
        return render_exam_page(request, exam, addendum_form=form, status=400)
    try:
        addendum, report = add_addendum(
            exam, request.user, form.cleaned_data["text"], captures=form.cleaned_data["captures"]
        )
    except (ReviewRefused, ReportRefused) as e:
        messages.error(request, str(e))
        return redirect(reverse("exam-detail", args=[exam.pk]) + "#addenda")
    audit(
        request,
        AuditEvent.Action.ADD_ADDENDUM,
        exam,
        number=addendum.number,
        report_version=report.version,
    )
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
    reviewer = can_review(request)
    reports = [report_json(r, reviewer) for r in exam.reports.order_by("-version")]
    return JsonResponse(
        {
            "review_state": exam.review_state,
            "review_state_label": exam.get_review_state_display(),
            "pending": any(r["state"] in Report.UNDER_WAY for r in reports),
            "reports": reports,
        },
        headers={"Cache-Control": "no-store"},
    )


def report_json(report, reviewer=True):
    # The words (badge, what went wrong and what happens next) are the report list's own
    # (portal.reports.states); the raw error is technical detail for reviewers and admins.
    state = report_state(report, can_retry_by_hand=reviewer)
    return {
        "id": report.pk,
        "version": report.version,
        "name": report.name,
        "state": report.state,
        "state_label": report.state_label,
        "tone": state.tone,
        "badge": state.badge,
        "summary": state.summary,
        "attempts": report.attempts,
        "last_error": report.last_error if reviewer else "",
        "next_attempt_at": report.next_attempt_at,
        "pushed_at": report.pushed_at,
        "can_retry": report.can_retry,
        "has_pdf": report.has_pdf,
    }
