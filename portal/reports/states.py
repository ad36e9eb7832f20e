"""A report version's state as staff read it: a badge, and what went wrong and what
happens next in words (``portal.work.words``, by the one retry policy).

The report list on the exam page and the reports.json it polls both show
``report_state``, so the page reads the same before and after a live update. The raw
error stays as the technical detail, for administrators.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from portal.reports.destinations import registered
from portal.reports.models import Report
from portal.work.words import row_words


@dataclass(frozen=True)
class ReportState:
    tone: str  # the badge's colour: making, sending, retrying, sent, failed
    badge: str  # "Sending to Clarius", "Retrying to send to Clarius", "Not sent to Clarius"…
    summary: str  # what went wrong and what happens next ("" when all is well)

    def as_json(self) -> dict:
        return asdict(self)


def report_state(report: Report, *, can_retry_by_hand: bool = True, now=None) -> ReportState:
    """The version's badge and sentence. ``can_retry_by_hand``: the reader has the
    "Retry now" button (reviewers); others are told a reviewer can retry it."""
    labels = [d.label for d in registered()]
    where = " and ".join(labels) or "its destinations"
    # A version's error names its destination when there are several (delivering._errors).
    who = labels[0] if len(labels) == 1 else "A destination"
    making = not report.has_pdf
    words = row_words(
        report,
        failed=report.state == Report.State.FAILED,
        who=who,
        unknown="The PDF could not be made" if making else "Something went wrong",
        now=now,
    )
    if report.state == Report.State.PUSHED:
        return ReportState("sent", report.state_label, "")
    if report.state == Report.State.FAILED:
        retry = "Retry now" if can_retry_by_hand else "a reviewer can retry it"
        summary = f"{words.sentence.rstrip('.')}: {retry}." if words.sentence else ""
        return ReportState("failed", "PDF not made" if making else f"Not sent to {where}", summary)
    if words.tone == "retrying":
        badge = "Retrying the PDF" if making else f"Retrying to send to {where}"
        return ReportState("retrying", badge, words.sentence)
    if report.state == Report.State.GENERATING:
        return ReportState("making", report.state_label, "")
    return ReportState("sending", report.state_label, "")
