"""The Clarius side of ``/metrics``: notifications received, and how long they take to
become an exam that is ready (``portal.metrics`` reads these at each scrape).

Counts and durations only: no customer token, exam, institution or patient is a label.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import (
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from integrations.clarius.models import NotificationReceipt
from portal.exams.models import Capture, Submission

# Notifications received this long ago or less make the ingest-lag histogram, the newest
# LAG_LIMIT of them at most: a scrape looks up a bounded number of receipts (by the index
# on received_at), and an hour is what an alert on the lag needs. Prometheus keeps the
# history.
LAG_WINDOW = timedelta(hours=1)
LAG_LIMIT = 5000
# Seconds from the notification to the exam's last capture stored.
LAG_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600)


def notification_families():
    # By state alone, which the (state, next_attempt_at) index answers without the table.
    received = CounterMetricFamily(
        "portal_notifications",
        "Clarius notifications kept as receipts: accepted (the catch-up poll's finds "
        "included) or rejected by the webhook.",
        labels=["outcome"],
    )
    totals = {"accepted": 0, "rejected": 0}
    for state, count in (
        NotificationReceipt.objects.order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    ):
        outcome = "rejected" if state == NotificationReceipt.State.REJECTED else "accepted"
        totals[outcome] += count
    for outcome, count in totals.items():
        received.add_metric([outcome], count)
    return [received]


def ingest_lag_families(now):
    """The histogram of notification → ready over the window, and the oldest still waiting.

    Ready is when the last capture of the notification's submission was stored (the
    fetch itself for a submission without captures); a submission with a capture still
    pending or failed is not ready and is left out of the histogram.
    """
    # Receipt → submission by its unique request_uuid, then its captures by the foreign
    # key: index look-ups for each receipt of the window.
    submission = Subquery(
        Submission.objects.filter(request_uuid=OuterRef("request_uuid")).order_by().values("pk")[:1]
    )
    captures = Capture.objects.filter(submission_id=OuterRef("submission_id")).order_by()
    last_stored = Subquery(
        captures.values("submission_id").annotate(at=Max("downloaded_at")).values("at")[:1]
    )
    ready = (
        NotificationReceipt.objects.filter(
            state=NotificationReceipt.State.FETCHED, received_at__gte=now - LAG_WINDOW
        )
        .annotate(submission_id=submission)
        # Equality on state, which the (state, next_attempt_at) index answers.
        .exclude(Exists(captures.filter(state__in=[Capture.State.PENDING, Capture.State.FAILED])))
        .annotate(ready_at=Coalesce(last_stored, F("fetched_at")))
        .filter(ready_at__isnull=False)
        .order_by("-received_at")
        .values_list("received_at", "ready_at")[:LAG_LIMIT]
    )
    # Bucketed here: a few thousand pairs of timestamps at most, and a database computing
    # each bucket's count would run the look-ups once per bucket.
    counts = [0] * len(LAG_BUCKETS)
    total, seen = 0.0, 0
    for received_at, ready_at in ready:
        seconds = max((ready_at - received_at).total_seconds(), 0.0)
        total += seconds
        seen += 1
        for i, bound in enumerate(LAG_BUCKETS):
            if seconds <= bound:
                counts[i] += 1
    lag = HistogramMetricFamily(
        "portal_ingest_lag_seconds",
        "From a Clarius notification received to its exam's captures all stored, for the "
        f"notifications of the last {int(LAG_WINDOW.total_seconds() // 60)} minutes, the "
        f"newest {LAG_LIMIT} at most (a sliding window: read it as it is, not with rate()).",
    )
    lag.add_metric(
        [],
        [(str(float(bound)), count) for bound, count in zip(LAG_BUCKETS, counts, strict=True)]
        + [("+Inf", seen)],
        sum_value=total,
    )

    # Not ready yet: a notification not fetched, or fetched with captures still pending.
    pending = NotificationReceipt.State.PENDING
    oldest_unfetched = NotificationReceipt.objects.filter(state=pending).aggregate(
        at=Min("received_at")
    )["at"]
    waiting_captures = Capture.objects.filter(state=Capture.State.PENDING).values(
        "submission__request_uuid"
    )
    oldest_downloading = NotificationReceipt.objects.filter(
        request_uuid__in=waiting_captures
    ).aggregate(at=Min("received_at"))["at"]
    oldest = min((at for at in (oldest_unfetched, oldest_downloading) if at), default=None)
    waiting = GaugeMetricFamily(
        "portal_ingest_oldest_waiting_seconds",
        "Age of the oldest accepted notification whose exam is not ready yet (not fetched, "
        "or captures still downloading); 0 when none is waiting. Notifications waiting "
        "for a linked account are not counted.",
    )
    waiting.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
    return [lag, waiting]


def collect():
    now = timezone.now()
    return notification_families() + ingest_lag_families(now)
