"""A destination failing for a day: its institution's administrators are told once.

A schedule (``apps.py``) looks for active destinations whose ``failing_since`` is older
than ``FAILING_FOR`` and that were not told about yet (``alerted_at`` empty); each is one
notification to every administrator (inbox and, as each chose, email) through the
notifications' alert kind. The message names the destination, since when, and how many
deliveries wait, with a link to its page: never a patient. A success clears
``failing_since`` and ``alerted_at`` (``sending``), so the next failing spell alerts again.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from portal.notifications import kinds as notification_kinds
from portal.notifications.alerts import Alert
from portal.notifications.daily import tell_admins
from portal.outbound.models import Destination, Transmission
from portal.tenants.timezones import format_when, zone_of

FAILING_FOR = timedelta(hours=24)
CHECK_MINUTES = 15


def check_failing(now=None) -> dict:
    """Tell the admins of every destination failing for a day; how many were found/told."""
    now = now or timezone.now()
    waiting = Q(transmissions__state__in=[Transmission.State.PENDING, Transmission.State.FAILED])
    due = (
        Destination.objects.filter(
            is_active=True,
            failing_since__lte=now - FAILING_FOR,
            alerted_at__isnull=True,
            institution__is_active=True,
        )
        .select_related("institution")
        .annotate(waiting=Count("transmissions", filter=waiting))
        .order_by("pk")
    )
    counts = {"destinations": 0, "told": 0}
    for destination in due:
        with transaction.atomic():
            # Claimed first: two schedulers running at once tell the admins once.
            claimed = Destination.objects.filter(pk=destination.pk, alerted_at__isnull=True).update(
                alerted_at=now
            )
            if not claimed:
                continue
            counts["destinations"] += 1
            counts["told"] += tell_admins(alert_of(destination), now)
    return counts


def alert_of(destination: Destination) -> Alert:
    since = format_when(destination.failing_since, zone=zone_of(destination.institution))
    n = destination.waiting
    return Alert(
        institution_id=destination.institution_id,
        kind=notification_kinds.DESTINATION_FAILING,
        key=f"outbound:failing:{destination.pk}:{destination.failing_since.isoformat()}",
        title=f"{destination.name} has been failing for a day",
        body=(
            f"Nothing has reached {destination.name} ({destination.kind_label}) since "
            f"{since}; {n} deliver{'y' if n == 1 else 'ies'} waiting or failed. Its page says "
            "what went wrong; the portal keeps retrying, and “Resend all failed” sends the "
            "rest once it is fixed."
        ),
        url=reverse("destination-detail", args=[destination.pk]),
    )
