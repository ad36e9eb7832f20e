"""Pushing a report version to Clarius, as durable work (see ``portal.work``).

``push_report`` is a nudge for one ``Report`` row: it claims the row, uploads the PDF to
the submission's ``services/requests/<request_uuid>/reports/`` and records the outcome.
Running it for a row that is not due (pushed, failed, held by another worker, backing
off) does nothing; the sweeper in ``integrations.clarius.tasks`` re-enqueues due rows.

Clarius' report upload has no idempotency key: if an upload succeeded but its answer
was lost, the retry sends the report again, and Clarius shows it twice. A duplicate
beats a report that never arrives.
"""

from __future__ import annotations

from contextlib import closing

from integrations.clarius.client import ServiceClient
from integrations.clarius.errors import ClariusError
from portal import work
from portal.exams import media
from portal.reports.issuing import mark_push_failed, mark_pushed
from portal.reports.models import Report


def service_client() -> ServiceClient:
    return ServiceClient.from_settings()


def push_report(report_id: int) -> str:
    report = work.claim(Report, report_id, state=Report.State.PENDING)
    if report is None:
        return "not due"
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
