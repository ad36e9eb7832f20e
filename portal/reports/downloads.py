"""Files of an exam page: capture media, their thumbnails, report PDFs.

Private media reaches the browser only here: the exam must be visible to the user
(tenant and role rules) on every request, and the bytes go out through the read
``portal.exams.serving.media_response`` (streamed, or handed to the front server).

What the audit log records: opening a capture (once per user and capture in
``REPEAT_WINDOW``: a clip is read in many range requests) and downloading a report. A
thumbnail or a clip's poster is part of the exam page, whose view is the event
(``view_exam``); recording each one buried the log in rows nobody could read.
"""

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from portal.exams.access import audit, audit_once, visible_captures
from portal.exams.models import AuditEvent, Capture
from portal.exams.serving import media_response
from portal.reports.access import exam_or_404
from portal.retention.notice import gone_response


@dataclass(frozen=True)
class StoredFile:
    """What ``media_response`` needs of a file that is not a capture's own media."""

    file: str
    content_type: str


def _capture(request, pk, capture_id):
    exam = exam_or_404(request, pk)
    captures = visible_captures(request).filter(exam=exam, state=Capture.State.DONE)
    return get_object_or_404(captures, pk=capture_id)


@login_required
@require_GET
def capture_media(request, pk, capture_id):
    capture = _capture(request, pk, capture_id)
    if capture.media_purged_at is not None:
        # Removed by the retention policy (portal.retention): gone, and no media opened.
        return gone_response(capture)
    audit_once(request, AuditEvent.Action.OPEN_MEDIA, capture, via="exam_page")
    return media_response(capture, request)


@login_required
@require_GET
def capture_thumbnail(request, pk, capture_id):
    capture = _capture(request, pk, capture_id)
    if not capture.thumbnail:
        raise Http404("This capture has no thumbnail")
    # Not an event of its own: the exam page showing it was (see the module's docstring).
    return media_response(StoredFile(capture.thumbnail, "image/jpeg"), request)


@login_required
@require_GET
def report_download(request, pk, report_id):
    exam = exam_or_404(request, pk)
    report = get_object_or_404(exam.reports.all(), pk=report_id)
    if not report.has_pdf:
        raise Http404("The PDF of this version is not made yet")
    audit(request, AuditEvent.Action.DOWNLOAD_REPORT, report, version=report.version)
    return media_response(StoredFile(report.file, "application/pdf"), filename=report.filename)
