"""The portal's own metrics, read from the database at each scrape.

Counting rows instead of incrementing counters in memory keeps the figures right across
any number of web and worker processes and nodes, with no shared registry, and across
restarts. Every query is one aggregate over indexed columns (a few dozen in all), and
no label names an institution, a person or a patient: kinds, states and outcomes only.
"""

from __future__ import annotations

import logging
import time

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from portal.metrics import registry

logger = logging.getLogger(__name__)


def kind_label(model) -> str:
    """``exams.capture``: the app and model, which every deployment shares."""
    return model._meta.label_lower


def work_families(now):
    """Rows of every registered kind of work by state, and how late the due ones are."""
    from portal.work import registry as work

    rows = GaugeMetricFamily(
        "portal_work_rows",
        "Rows of each kind of durable work, by state.",
        labels=["kind", "state"],
    )
    due = GaugeMetricFamily(
        "portal_work_due_rows",
        "Rows whose work is due now and not held by a live claim (waiting for a worker).",
        labels=["kind"],
    )
    oldest = GaugeMetricFamily(
        "portal_work_oldest_due_age_seconds",
        "How long the oldest due row has been due (0 when none is).",
        labels=["kind"],
    )
    retrying = GaugeMetricFamily(
        "portal_work_retrying_rows",
        "Rows still waiting for their task after at least one failed attempt.",
        labels=["kind"],
    )
    for kind in work.kinds():
        model = kind.model
        label = kind_label(model)
        manager = model._default_manager
        if any(f.name == "state" for f in model._meta.get_fields()):
            for state, count in (
                manager.order_by()
                .values_list("state")
                .annotate(n=Count("pk"))
                .values_list("state", "n")
            ):
                rows.add_metric([label, state], count)
        else:
            rows.add_metric([label, ""], manager.count())
        due_now = Q(next_attempt_at__lte=now) & (
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        )
        waiting = (
            kind.rows()
            .order_by()
            .aggregate(
                due=Count("pk", filter=due_now),
                oldest=Min("next_attempt_at", filter=due_now),
                retrying=Count("pk", filter=~Q(last_error="")),
            )
        )
        due.add_metric([label], waiting["due"])
        age = (now - waiting["oldest"]).total_seconds() if waiting["oldest"] else 0.0
        oldest.add_metric([label], max(age, 0.0))
        retrying.add_metric([label], waiting["retrying"])
    return [rows, due, oldest, retrying]


def delivery_families():
    """Report versions on their way to each destination, and objects sent onward."""
    from portal.outbound.models import Transmission
    from portal.reports.models import Delivery

    deliveries = GaugeMetricFamily(
        "portal_report_deliveries",
        "Report versions on their way to, or delivered to, each kind of destination.",
        labels=["destination", "state"],
    )
    for destination, state, count in (
        Delivery.objects.order_by()
        .values_list("destination", "state")
        .annotate(n=Count("pk"))
        .values_list("destination", "state", "n")
    ):
        deliveries.add_metric([destination, state], count)
    transmissions = GaugeMetricFamily(
        "portal_outbound_transmissions",
        "Images, clips, research objects and reports sent to hospital systems (PACS, "
        "HL7, FHIR), by kind of destination, what was sent and state.",
        labels=["kind", "what", "state"],
    )
    for kind, what, state, count in (
        Transmission.objects.order_by()
        .values_list("destination__kind", "what", "state")
        .annotate(n=Count("pk"))
        .values_list("destination__kind", "what", "state", "n")
    ):
        transmissions.add_metric([kind, what, state], count)
    return [deliveries, transmissions]


# Summing every stored file's size reads the whole table: done at most this often per
# process, whatever the scrape interval (the total moves slowly).
MEDIA_EVERY = 300.0
_media = {"at": None, "families": None}


def media_families():
    now = time.monotonic()
    if _media["at"] is None or now - _media["at"] >= MEDIA_EVERY:
        _media.update(families=read_media_families(), at=now)
    return _media["families"]


def read_media_families():
    stored = GaugeMetricFamily(
        "portal_media_bytes",
        "Bytes of stored files (captures, report PDFs, research files), by what they are.",
        labels=["what"],
    )
    files = GaugeMetricFamily(
        "portal_media_files", "Stored files, by what they are.", labels=["what"]
    )
    for kind in registry.stored_files():
        totals = kind.rows().order_by().aggregate(bytes=Sum("size"), files=Count("pk"))
        stored.add_metric([kind.what], totals["bytes"] or 0)
        files.add_metric([kind.what], totals["files"])
    return [stored, files]


CORE = {
    "work": lambda now: work_families(now),
    "deliveries": lambda now: delivery_families(),
    "media": lambda now: media_families(),
}


class PortalCollector:
    """A prometheus_client collector: ``collect()`` reads the database each time."""

    def describe(self):
        # Nothing up front: describing would read the database at registration.
        return []

    def collect(self):
        started = time.perf_counter()
        now = timezone.now()
        up = GaugeMetricFamily(
            "portal_metrics_source_up",
            "1 when the source's figures were read at this scrape, 0 when reading failed "
            "(see the logs).",
            labels=["source"],
        )
        parts = [(key, lambda f=f: f(now)) for key, f in CORE.items()]
        parts += [(source.key, source.collect) for source in registry.sources()]
        for key, collect in parts:
            try:
                families = list(collect())
            except Exception:  # one failing source must not hide the others
                logger.exception("metrics: could not read %s", key)
                up.add_metric([key], 0)
                continue
            up.add_metric([key], 1)
            yield from families
        yield up
        took = GaugeMetricFamily(
            "portal_metrics_collect_seconds",
            "How long reading the portal's figures from the database took at this scrape.",
        )
        took.add_metric([], time.perf_counter() - started)
        yield took


def forget_cached() -> None:
    """Read the slow totals afresh at the next scrape (tests, after changing rows)."""
    _media["at"] = None
