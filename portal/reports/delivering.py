"""A report version's deliveries: each sent, failed or retried, and the version's summary.

The version's task (``portal.reports.tasks.push_report``) holds the version's claim and
works through its due deliveries, each under a claim of its own; then ``settle`` sums
them up on the version: *sent* once every destination has it (and the exam is
*reported* once no version is on its way), *failed* once none is still being tried,
otherwise *sending*, due again when its earliest delivery is. Becoming *sent* or
*failed* emits ``report.sent`` / ``report.failed`` (``portal.events``) in the transaction
that records it. The sweeper hands out due
versions, so a delivery waiting out its backoff is sent when its time comes.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from portal import events, storage, work
from portal.exams.models import Exam
from portal.reports import destinations
from portal.reports.models import Delivery, Report
from portal.text import clean_text

logger = logging.getLogger(__name__)


def deliver_due(report: Report) -> list[str]:
    """Send each due delivery of a claimed version; the outcomes, in a word each."""
    due = work.due(report.deliveries.filter(state=Delivery.State.PENDING)).order_by("pk")
    pks = list(due.values_list("pk", flat=True))
    if not pks:
        return []
    with _pdf_path(report) as path:
        outcomes = []
        for pk in pks:
            delivery = work.claim(Delivery, pk, state=Delivery.State.PENDING)
            if delivery is not None:
                delivery.report = report
                outcomes.append(deliver(delivery, path))
    return outcomes


@contextmanager
def _pdf_path(report: Report):
    """The version's PDF as a file on this machine for the destinations (a temporary copy
    when the storage is remote), or ``None`` when it is not in the storage."""
    try:
        present = storage.exists(report.file)
    except ValueError:
        present = False
    if not present:
        yield None
        return
    with storage.local_path(report.file) as path:
        yield path


def deliver(delivery: Delivery, path: Path | None) -> str:
    """Send one claimed delivery and record its outcome."""
    destination = destinations.get(delivery.destination)
    if destination is None:
        return mark_failed(
            delivery, f"no destination {delivery.destination!r} is installed", permanent=True
        )
    if path is None or not path.is_file():
        # No retry brings a lost file back; an admin can see why and issue a new version.
        return mark_failed(
            delivery, f"the report file {delivery.report.file} is missing", permanent=True
        )
    try:
        remote_id = destination.send(delivery, path)
    except destinations.DeliveryFailed as e:
        return mark_failed(delivery, str(e), permanent=e.permanent)
    except Exception as e:  # noqa: BLE001 - a delivery must never be dropped unseen
        logger.exception("delivery %s to %s failed", delivery.pk, delivery.destination)
        return mark_failed(delivery, f"{type(e).__name__}: {e}", permanent=False)
    delivery.state = Delivery.State.SENT
    delivery.sent_at = timezone.now()
    delivery.remote_id = clean_text(str(remote_id or ""), max_length=200)
    delivery.save(update_fields=["state", "sent_at", "remote_id", *work.finish(delivery)])
    return "sent"


def mark_failed(delivery: Delivery, error: str, *, permanent: bool) -> str:
    """Back off and retry, or give up to the visible *failed*."""
    outcome, fields = work.fail_or_give_up(
        delivery, clean_text(error, multiline=True), permanent=permanent
    )
    delivery.save(update_fields=fields)
    return outcome


def settle(report: Report) -> str:
    """Sum the deliveries up on the (claimed) version; its outcome, in a word."""
    deliveries = list(report.deliveries.all())
    pending = [d for d in deliveries if d.state == Delivery.State.PENDING]
    failed = [d for d in deliveries if d.state == Delivery.State.FAILED]
    report.claimed_until = None
    report.attempts = max((d.attempts for d in deliveries), default=report.attempts)
    fields = ["state", "claimed_until", "attempts", "next_attempt_at", "last_error"]
    if pending:
        report.state = Report.State.PENDING
        due = [d.next_attempt_at for d in pending if d.next_attempt_at]
        report.next_attempt_at = min(due) if due else timezone.now()
        report.last_error = _errors(report, [d for d in pending if d.last_error])
        report.save(update_fields=fields)
        return "retry"
    if failed:
        was_failed = report.state == Report.State.FAILED
        report.state = Report.State.FAILED
        report.next_attempt_at = None
        report.last_error = _errors(report, failed)
        with transaction.atomic():
            report.save(update_fields=fields)
            if not was_failed:
                events.emit(events.REPORT_FAILED, report.exam, report_version=report.version)
        return "failed"
    was_pushed = report.state == Report.State.PUSHED
    report.state = Report.State.PUSHED
    report.pushed_at = max((d.sent_at for d in deliveries if d.sent_at), default=timezone.now())
    work.finish(report)
    with transaction.atomic():
        report.save(update_fields=[*fields, "pushed_at"])
        exam = Exam.objects.select_for_update().get(pk=report.exam_id)
        still_under_way = exam.reports.filter(state__in=Report.UNDER_WAY).exists()
        # A preliminary report (a trainee's, sent before attestation) leaves the exam
        # awaiting attestation; only a final one makes it *reported*.
        if not still_under_way and exam.review_state not in (
            Exam.ReviewState.REPORTED,
            Exam.ReviewState.PRELIMINARY,
        ):
            exam.review_state = Exam.ReviewState.REPORTED
            exam.save(update_fields=["review_state", "updated_at"])
        if not was_pushed:
            events.emit(events.REPORT_SENT, exam, report_version=report.version)
    return "pushed"


def _errors(report: Report, deliveries: list[Delivery]) -> str:
    if len(destinations.registered()) <= 1 and len(deliveries) == 1:
        return deliveries[0].last_error
    return "\n".join(f"{d.destination_label}: {d.last_error}" for d in deliveries)[
        : work.ERROR_LIMIT
    ]
