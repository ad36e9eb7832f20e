"""The recurring jobs: each reviewer's digest of new exams, and the admins' alerts.

Both are django-q2 schedules (``portal.work.schedules``, registered in ``apps.py``).
Each builds rows only (notifications and queued emails) in one transaction per
recipient; the emails go out through the worker like any other.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone

from portal.exams.models import Exam
from portal.notifications import alerts, kinds
from portal.notifications.emails import absolute, patient_words
from portal.notifications.models import (
    DigestEntry,
    Email,
    Notification,
    NotificationPreference,
)
from portal.notifications.producing import notify, preference_of
from portal.tenants.models import Membership
from portal.tenants.timezones import format_when, zone_of

DIGEST_MINUTES = 24 * 60
ALERT_MINUTES = 60  # checked hourly, told at most once a day per alert
ALERT_REPEAT = timedelta(hours=23)  # a little under a day, so a daily check is not skipped


# Sent emails are kept this long for an operator to look into (admin › Emails), then
# deleted: an institution may allow patient names in them.
EMAIL_RETENTION = timedelta(days=30)


def send_digests() -> dict:
    """One digest per reviewer who chose it and has new exams waiting since the last one;
    sent emails past their retention are deleted on the way."""
    Email.objects.filter(
        state=Email.State.SENT, sent_at__lt=timezone.now() - EMAIL_RETENTION
    ).delete()
    counts = {"digests": 0, "dropped": 0}
    membership_ids = set(DigestEntry.objects.values_list("membership_id", flat=True))
    for membership_id in sorted(membership_ids):
        with transaction.atomic():
            outcome = _digest_for(membership_id)
        counts[outcome] += 1
    return counts


def _digest_for(membership_id: int) -> str:
    membership = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "institution")
        .filter(pk=membership_id)
        .first()
    )
    entries = DigestEntry.objects.filter(membership_id=membership_id)
    if membership is None:
        entries.delete()
        return "dropped"
    preference = preference_of(membership)
    # The tenant rule once more: only the member's institution's exams, whatever the rows say.
    exam_ids = entries.filter(institution_id=membership.institution_id).values("exam_id")
    exams = list(
        Exam.objects.for_institution(membership.institution)
        .filter(pk__in=exam_ids)
        .select_related("exam_type", "institution", "patient")
        .order_by("last_submitted_at", "id")
    )
    entries.delete()
    if (
        not exams
        or preference.new_exam != NotificationPreference.Frequency.DAILY
        or not membership.institution.is_active
        or not membership.user.is_active
    ):
        return "dropped"
    n = len(exams)
    title = f"{n} new exam{pluralize(n)} to review"
    lines = [f"{title} in {membership.institution.name}:", ""]
    for exam in exams:
        what = exam.exam_type.name if exam.exam_type_id else "Exam"
        patient = patient_words(exam)
        arrived = format_when(exam.last_submitted_at, zone=zone_of(membership.institution))
        lines.append(
            f"- {what}, submitted {arrived}{f', {patient}' if patient else ''}: "
            f"{absolute(reverse('exam-detail', args=[exam.pk]))}"
        )
    notify(
        membership,
        kinds.NEW_EXAM_DIGEST,
        title=title,
        body="Since the last digest. The worklist lists them.",
        url=reverse("worklist"),
        email_lines=lines,
    )
    preference.digest_sent_at = timezone.now()
    preference.save()
    return "digests"


def check_alerts() -> dict:
    """Ask every registered check what holds now; tell the institutions' admins."""
    now = timezone.now()
    counts = {"alerts": 0, "told": 0}
    for check in alerts.registered():
        for alert in check.check(now):
            counts["alerts"] += 1
            with transaction.atomic():
                counts["told"] += tell_admins(alert, now)
    return counts


def tell_admins(alert: alerts.Alert, now=None) -> int:
    """Notify the institution's administrators of ``alert``, unless told within a day."""
    now = now or timezone.now()
    if alert.kind not in alerts.ALERT_KINDS:
        raise ValueError(f"{alert.kind!r} is not an alert kind")
    admins = Membership.objects.filter(
        institution_id=alert.institution_id,
        institution__is_active=True,
        role=Membership.Role.ADMIN,
        user__is_active=True,
    ).select_related("user", "institution", "notification_preference")
    told = 0
    for membership in admins:
        recent = Notification.objects.filter(
            recipient_id=membership.user_id,
            institution_id=alert.institution_id,
            key=alert.key,
            created_at__gt=now - ALERT_REPEAT,
        )
        if recent.exists():
            continue
        notify(
            membership,
            alert.kind,
            title=alert.title,
            body=alert.body,
            url=alert.url,
            key=alert.key,
        )
        told += 1
    return told
