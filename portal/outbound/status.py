"""The delivery log in words: one row's state, an exam's summary per destination.

The exam page, the destination page and the API read these, so a delivery reads the
same everywhere. A kind's ``DeliveryFailed`` message is already in words a person can
act on; ``portal.work.words`` adds what the one retry policy does next.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, Subquery

from portal.outbound.models import Destination, Transmission
from portal.text import clean_text
from portal.work import words

State = Transmission.State
ERROR_WORDS = 300  # of a kind's message, on a page


def row_words(transmission: Transmission, now=None) -> words.Attempts:
    """What happened to one row and what happens next: "The PACS refused the association
    (called AE title not recognised); retrying in 2 minutes, attempt 3 of 8."."""
    error = clean_text(transmission.last_error or "", max_length=ERROR_WORDS)
    return words.row_words(
        transmission,
        failed=transmission.state == State.FAILED,
        who=transmission.destination.name,
        unknown=error,  # the kind's own words when none of the known kinds fits
        now=now,
    )


@dataclass(frozen=True)
class Summary:
    """One destination's part of an exam: how many objects are sent, sending, failed."""

    destination_id: int
    name: str
    kind_label: str
    total: int
    sent: int
    pending: int
    failed: int
    reason: str  # the latest error of a row not sent ("" if none)

    @property
    def tone(self) -> str:
        if self.failed:
            return "failed"
        if self.pending:
            return "retrying" if self.reason else "working"
        return "done"

    @property
    def words(self) -> str:
        if self.failed:
            reason = words.failure_words(self.reason, self.name, unknown=self.reason)
            count = "" if self.failed == self.total else f" ({self.failed} of {self.total})"
            return f"Failed{count}: {reason or 'no reason was given'}"
        if self.pending:
            text = f"Sending ({self.sent} of {self.total} sent)"
            if self.reason:
                reason = words.failure_words(self.reason, self.name, unknown=self.reason)
                text += f"; retrying after: {reason}"
            return text
        return "Sent" if self.total == 1 else f"Sent ({self.total})"


def exam_summary(exam) -> list[Summary] | None:
    """Per destination of the exam's institution that has rows for the exam; ``None``
    when the institution has no destination at all (the page shows nothing then).

    One query, whatever the number of destinations and objects.
    """
    of_exam = Q(transmissions__exam_id=exam.pk)
    latest_error = (
        Transmission.objects.filter(destination=OuterRef("pk"), exam_id=exam.pk)
        .exclude(state=State.SENT)
        .exclude(last_error="")
        .order_by("-last_attempt_at", "-pk")
        .values("last_error")[:1]
    )
    rows = (
        Destination.objects.filter(institution_id=exam.institution_id)
        .annotate(
            total=Count("transmissions", filter=of_exam),
            sent=Count("transmissions", filter=of_exam & Q(transmissions__state=State.SENT)),
            pending=Count("transmissions", filter=of_exam & Q(transmissions__state=State.PENDING)),
            failed=Count("transmissions", filter=of_exam & Q(transmissions__state=State.FAILED)),
            reason=Subquery(latest_error),
        )
        .order_by("name", "pk")
    )
    rows = list(rows)
    if not rows:
        return None
    return [
        Summary(
            destination_id=d.pk,
            name=d.name,
            kind_label=d.kind_label,
            total=d.total,
            sent=d.sent,
            pending=d.pending,
            failed=d.failed,
            reason=clean_text(d.reason or "", max_length=ERROR_WORDS),
        )
        for d in rows
        if d.total
    ]


def health_counts(destinations) -> dict[int, dict[str, int]]:
    """``{destination id: {state: count}}`` of every row, in one query."""
    counts: dict[int, dict[str, int]] = {d.pk: {} for d in destinations}
    rows = (
        Transmission.objects.filter(destination__in=list(counts))
        .values_list("destination_id", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for destination_id, state, n in rows:
        counts[destination_id][state] = n
    return counts
