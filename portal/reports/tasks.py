"""A report version's work, as durable work (see ``portal.work``): its PDF, then its
deliveries.

``push_report`` is a nudge for one ``Report`` row. It claims the row (conditional UPDATE)
and does what is due: a version still *generating* gets its PDF drawn from the signed
findings (``issuing.build_pdf``) and moves on to *pending* with one delivery per
destination; a *pending* one sends each due delivery (``delivering``) and sums them up.
Each step records its outcome with the one retry policy. Running it for a row that is
not due (delivered, failed, held by another worker, backing off) does nothing; the
sweeper re-enqueues due rows, so a version signed just before a crash is drawn and
delivered all the same.

A destination may have no idempotency key (Clarius' report upload has none): if a
delivery succeeded but its answer was lost, the retry sends the report again, and the
destination shows it twice. A duplicate beats a report that never arrives.
"""

from __future__ import annotations

import logging

from portal import work
from portal.reports import delivering
from portal.reports.issuing import build_pdf, mark_build_failed, mark_built
from portal.reports.models import Report

logger = logging.getLogger(__name__)


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
        # Whatever the cause (a full disk, a drawing error), the version stays
        # visible with the error, is retried with backoff, and can be retried by hand.
        logger.exception("the PDF of report %s could not be made", report.pk)
        return mark_build_failed(report, f"{type(e).__name__}: {e}")
    return "built" if mark_built(report, fingerprint) else "not due"


def push_claimed(report: Report) -> str:
    """Send the due deliveries of a claimed *pending* version, then sum them up."""
    report = Report.objects.select_related("exam", "submission").get(pk=report.pk)
    delivering.deliver_due(report)
    return delivering.settle(report)
