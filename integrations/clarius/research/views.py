"""Research pages: a member's research login, and an exam's raw data and DICOM exports.

Who may use the exam pages: whoever may see the exam (``visible_exams``): reviewers and
admins of its institution, and the clinician who performed it. Another institution's
exam is a 404. Calls to Clarius go with the asking member's own research token, and
every access to patient data here is written to the audit log.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from integrations.clarius.api.errors import ClariusError, Unauthorized
from integrations.clarius.forms import DicomExportForm, ResearchConnectForm
from integrations.clarius.models import DicomExport, RawDataFile
from integrations.clarius.research import service as research
from portal.exams.access import audit, visible_exams
from portal.exams.models import AuditEvent
from portal.exams.serving import media_response
from portal.tenants.scoping import scoped_to_request

# --- the member's research account ------------------------------------------------------


@sensitive_post_parameters("password")
@login_required
def research_account(request):
    """Connect with Clarius username and password (sent once, never kept), or see status."""
    form = ResearchConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            research.connect(
                request.user, form.cleaned_data["username"], form.cleaned_data["password"]
            )
        except Unauthorized:
            form.add_error(None, "Invalid credentials: Clarius did not accept them.")
        except ClariusError as e:
            form.add_error(None, research.explain(e))
        else:
            messages.success(request, "Your Clarius research account is connected.")
            return redirect("clarius-research")
    status = 400 if form.errors else 200
    context = {"account": research.account_of(request.user), "form": form}
    return render(request, "clarius/research_account.html", context, status=status)


@require_POST
@login_required
def research_disconnect(request):
    if research.disconnect(request.user):
        messages.success(request, "Your research account is disconnected; its token is gone.")
    return redirect("clarius-research")


# --- an exam's research data ----------------------------------------------------------------


def exam_or_404(request, pk):
    exam = visible_exams(request).filter(pk=pk).first()
    if exam is None:
        raise Http404("No such exam")
    return exam


@login_required
def raw_data(request, pk):
    """Per capture, the metadata Clarius keeps (probe, streams, acoustic indices)."""
    exam = exam_or_404(request, pk)
    account = research.account_of(request.user)
    captures, error = [], None
    if account is not None:
        try:
            captures = research.raw_data(request.user, exam)
        except ClariusError as e:
            error = research.explain(e)
    audit(request, AuditEvent.Action.RESEARCH_RAW_DATA, exam, captures=len(captures))
    files = {
        str(f.capture_uuid): f for f in scoped_to_request(RawDataFile, request).filter(exam=exam)
    }
    rows = [(capture, files.get(capture.capture_uuid or "")) for capture in captures]
    context = {"exam": exam, "account": account, "rows": rows, "error": error}
    return render(request, "clarius/research_raw_data.html", context)


@require_POST
@login_required
def raw_data_fetch(request, pk, capture_uuid):
    exam = exam_or_404(request, pk)
    if research.account_of(request.user) is None:
        return redirect("clarius-research")
    research.request_raw_file(request.user, exam, capture_uuid)
    audit(request, AuditEvent.Action.RESEARCH_RAW_DATA, exam, copy=str(capture_uuid))
    messages.info(request, "The raw data is being copied into the portal; reload in a moment.")
    return redirect("clarius-raw-data", pk=exam.pk)


@login_required
def raw_data_file(request, pk, file_pk):
    exam = exam_or_404(request, pk)
    row = scoped_to_request(RawDataFile, request).filter(exam=exam, pk=file_pk).first()
    if row is None or row.state != RawDataFile.State.DONE:
        raise Http404("No such raw data file")
    audit(request, AuditEvent.Action.RAW_DATA_DOWNLOAD, row, exam=exam.pk)
    row.content_type = "application/octet-stream"  # never rendered by the browser
    return media_response(row, filename=download_name(row.file))


@login_required
def dicom(request, pk):
    """The export form (every option of Clarius'), and the exam's exports."""
    exam = exam_or_404(request, pk)
    account = research.account_of(request.user)
    form = DicomExportForm(request.POST or None)
    if request.method == "POST" and account is not None and form.is_valid():
        export = research.request_dicom_export(request.user, exam, form.parameters())
        audit(request, AuditEvent.Action.DICOM_EXPORT, exam, export=export.pk)
        messages.info(request, "DICOM export requested; it appears below when Clarius has it.")
        return redirect("clarius-dicom", pk=exam.pk)
    exports = (
        scoped_to_request(DicomExport, request).filter(exam=exam).select_related("requested_by")
    )
    # The exports' tags hold patient data: looking at them is looking at the exam.
    audit(request, AuditEvent.Action.VIEW_EXAM, exam, page="research DICOM")
    context = {"exam": exam, "account": account, "form": form, "exports": exports}
    return render(
        request, "clarius/research_dicom.html", context, status=400 if form.errors else 200
    )


@login_required
def dicom_download(request, pk, export_pk):
    exam = exam_or_404(request, pk)
    export = scoped_to_request(DicomExport, request).filter(exam=exam, pk=export_pk).first()
    if export is None or export.state != DicomExport.State.DONE:
        raise Http404("No such DICOM export")
    audit(request, AuditEvent.Action.DICOM_DOWNLOAD, export, exam=exam.pk)
    return media_response(export, filename=download_name(export.file))


def download_name(relpath: str) -> str:
    return relpath.rsplit("/", 1)[-1]
