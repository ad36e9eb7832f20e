"""A report version's work, as durable work (see ``portal.work``): its PDF, then its push.

``push_report`` is a nudge for one ``Report`` row. It claims the row (conditional UPDATE)
and does what is due: a version still *generating* gets its PDF drawn from the signed
findings (``issuing.build_pdf``) and moves on to *pending*; a *pending* one is uploaded
to the submission's ``services/requests/<request_uuid>/reports/``. Each step records its
outcome with the one retry policy. Running it for a row that is not due (pushed, failed,
held by another worker, backing off) does nothing; the sweeper in
``integrations.clarius.tasks`` re-enqueues due rows, so a version signed just before a
crash is drawn and pushed all the same.

Clarius' report upload has no idempotency key: if an upload succeeded but its answer
was lost, the retry sends the report again, and Clarius shows it twice. A duplicate
beats a report that never arrives.
"""

from __future__ import annotations

import logging
from contextlib import closing

from integrations.clarius.api.client import ServiceClient
from integrations.clarius.api.errors import ClariusError
from portal import work
from portal.exams import media
from portal.reports.issuing import (
    build_pdf,
    mark_build_failed,
    mark_built,
    mark_push_failed,
    mark_pushed,
)
from portal.reports.models import Report

logger = logging.getLogger(__name__)


def service_client() -> ServiceClient:
    return ServiceClient.from_settings()


def push_report(report_id: int) -> str:
    """Draw the version's PDF if it has none yet, then push it; the outcome, in a word."""
    report = work.claim(Report, report_id, state__in=Report.UNDER_WAY)
    if report is None:
        return "not due"
    if report.state == Report.State.GENERATING:
        outcome = build_report(report)
        if outcome != "built":
            return outcome
        # Straight on to the push, under a claim of its own: should this worker die
        # now, the row is due and the sweeper hands it out again.
        report = work.claim(Report, report_id, state=Report.State.PENDING)
        if report is None:
            return "not due"
    return push_claimed(report)


def build_report(report: Report) -> str:
    """Draw the PDF of a claimed *generating* version."""
    try:
        fingerprint = build_pdf(report)
    except Exception as e:
        # Whatever the cause (a full disk, a reportlab error), the version stays
        # visible with the error, is retried with backoff, and can be retried by hand.
        logger.exception("the PDF of report %s could not be made", report.pk)
        return mark_build_failed(report, f"{type(e).__name__}: {e}")
    return "built" if mark_built(report, fingerprint) else "not due"


def push_claimed(report: Report) -> str:
    """Upload a claimed *pending* version to Clarius."""
    report = Report.objects.select_related("exam", "submission").get(pk=report.pk)
    path = media.absolute(report.file)
    if not path.is_file():
        # No retry brings a lost file back; an admin can see why and issue a new version.
        return mark_push_failed(report, f"the report file {report.file} is missing", permanent=True)
    try:
        with closing(service_client()) as client:
            receipt = client.upload_report(
                str(report.submission.request_uuid), report.name, path, filename=report.filename
            )
    except ClariusError as e:
        return mark_push_failed(report, str(e), permanent=e.permanent)
    mark_pushed(report, receipt)
    return "pushed"
