"""What the Clarius side tells an institution's administrators (``portal.notifications.alerts``).

- Exams waiting for a link: Clarius sent exams for a customer token that a member of
  the institution linked, but the link is not (or no longer) confirmed, so they wait
  *unassigned*. A token nobody ever linked belongs to no institution: nobody to tell.
- Ingestion failing for a day: notifications whose exam could not be fetched, or
  captures that could not be downloaded, failing since more than a day and failing
  still (an attempt in the last day).

Registered in ``apps.py``; the core's daily check calls these and tells each admin at
most once a day. The words name members, never patients.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.template.defaultfilters import pluralize
from django.urls import reverse

from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.exams.models import Capture
from portal.notifications.alerts import Alert
from portal.notifications.kinds import EXAMS_UNLINKED, INGESTION_FAILING

# A link normally confirms within minutes: exams waiting longer than this need a person.
UNLINKED_AFTER = timedelta(hours=1)
FAILING_FOR = timedelta(days=1)


def exams_waiting_for_a_link(now: datetime) -> list[Alert]:
    waiting = (
        NotificationReceipt.objects.filter(
            state=NotificationReceipt.State.UNASSIGNED, received_at__lte=now - UNLINKED_AFTER
        )
        .values("customer_id")
        .annotate(n=Count("pk"))
    )
    counts = {row["customer_id"]: row["n"] for row in waiting if row["customer_id"]}
    if not counts:
        return []
    links = (
        ClariusLink.objects.filter(token__in=list(counts))
        .exclude(state=ClariusLink.State.CONFIRMED)
        .select_related("user")
        .order_by("institution_id", "user__email")
    )
    per_institution: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for link in links:
        per_institution[link.institution_id].append((link.user.email, counts[link.token]))
    alerts = []
    for institution_id, members in per_institution.items():
        total = sum(n for _, n in members)
        who = ", ".join(f"{email} ({n} exam{pluralize(n)})" for email, n in members)
        alerts.append(
            Alert(
                institution_id=institution_id,
                kind=EXAMS_UNLINKED,
                key="clarius:exams-unlinked",
                title=f"{total} exam{pluralize(total)} from Clarius wait for a member's link",
                body=f"Their Clarius account is not linked and confirmed: {who}. "
                "Linking it again lets the exams in.",
                url=reverse("clarius-institution-links"),
            )
        )
    return alerts


def ingestion_failing(now: datetime) -> list[Alert]:
    # Failing since more than a day (arrived before ``since``) and still failing (an
    # attempt within the day).
    since = now - FAILING_FOR
    failing = Q(attempts__gte=1, last_attempt_at__gte=since) & ~Q(last_error="")
    receipts = (
        NotificationReceipt.objects.filter(
            failing,
            state__in=[NotificationReceipt.State.PENDING, NotificationReceipt.State.FAILED],
            received_at__lte=since,
            link__isnull=False,
        )
        .values("link__institution_id")
        .annotate(n=Count("pk"))
    )
    captures = (
        Capture.objects.filter(
            failing,
            state__in=[Capture.State.PENDING, Capture.State.FAILED],
            submission__submitted_at__lte=since,
        )
        .values("institution_id")
        .annotate(n=Count("pk"))
    )
    fetches = {row["link__institution_id"]: row["n"] for row in receipts}
    downloads = {row["institution_id"]: row["n"] for row in captures}
    alerts = []
    for institution_id in sorted(set(fetches) | set(downloads)):
        parts = []
        if n := fetches.get(institution_id):
            parts.append(f"{n} exam{pluralize(n)} could not be fetched")
        if n := downloads.get(institution_id):
            parts.append(f"{n} image{pluralize(n)} or clip{pluralize(n)} could not be downloaded")
        alerts.append(
            Alert(
                institution_id=institution_id,
                kind=INGESTION_FAILING,
                key="clarius:ingestion-failing",
                title="Exams from Clarius have failed to arrive for a day",
                body=f"For more than a day, and still: {' and '.join(parts)}. "
                "The dashboard's Clarius panel shows the failures; retries continue.",
                url=reverse("home"),
            )
        )
    return alerts
