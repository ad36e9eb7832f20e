"""What the QA program tells people (``portal.notifications``): rows only, in the
transaction of the change; the emails go out through the worker like any other.

- ``feedback(review)``: the operator, when their exam's first QA read is scored. The
  second read is a blinded calibration read: nobody is told of it.
- ``assigned(review)``: the QA reviewer a review was just assigned to (round-robin at
  selection, or a QA lead by hand: the queue calls it after saving the assignment).
- ``send_overdue_digests()``: once a day, each QA lead and administrator of a running
  program with overdue QA reviews gets their counts per exam type and the oldest.

Titles and bodies name no patient; an email adds the patient's name and identifier
only when the institution allows it (``Institution.email_patient_identifiers``), through
``notify``. The digest names exam types and counts only.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Min, Q
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone

from portal.notifications import kinds
from portal.notifications.emails import absolute
from portal.notifications.models import Notification
from portal.notifications.producing import notify
from portal.qa.models import QAReview, QASettings
from portal.tenants.models import Membership
from portal.tenants.roles import REVIEWING_ROLES
from portal.tenants.timezones import format_when, local, zone_of

OVERDUE_MINUTES = 60  # checked hourly; each lead told at most once per day
OVERDUE_KEY = "qa-overdue:{day}"


def _member(institution_id, user_id):
    """The user's membership there, if they are still a member of an active institution."""
    if user_id is None:
        return None
    return (
        Membership.objects.filter(
            institution_id=institution_id,
            user_id=user_id,
            institution__is_active=True,
            user__is_active=True,
        )
        .select_related("user", "institution", "notification_preference")
        .first()
    )


def _type_words(review) -> str:
    exam_type = review.exam_type or getattr(review.exam, "exam_type", None)
    # A title holds 200 characters: a long exam type name is cut, never the result.
    return exam_type.name[:100] if exam_type is not None else "ultrasound"


def feedback(review: QAReview) -> Notification | None:
    """Tell the operator their exam's QA result (first read only), with a link to their
    QA feedback. Called by ``scoring.score`` inside its transaction."""
    if review.read != QAReview.FIRST_READ or review.state != QAReview.State.DONE:
        return None
    operator_id = review.operator_id
    if operator_id is None or operator_id == review.scored_by_id:
        return None
    membership = _member(review.institution_id, operator_id)
    if membership is None:
        return None
    result = "passed" if review.passed else "not passed"
    return notify(
        membership,
        kinds.QA_FEEDBACK,
        title=f"QA feedback on your {_type_words(review)} exam: {result}",
        body="Open your QA feedback to read the QA reviewer's comments.",
        url=reverse("qa-credentialing-member", args=[operator_id]),
        exam=review.exam,
        key=f"qa-feedback:{review.pk}",
    )


def assigned(review: QAReview) -> Notification | None:
    """Tell the review's assignee it is theirs to score (nothing when unassigned). Call
    it after saving a new assignment: at selection (round-robin), and by hand."""
    if review.assignee_id is None or review.state != QAReview.State.PENDING:
        return None
    membership = _member(review.institution_id, review.assignee_id)
    if membership is None or membership.role not in REVIEWING_ROLES:
        return None
    zone = zone_of(membership.institution)
    return notify(
        membership,
        kinds.QA_ASSIGNED,
        title=f"A {_type_words(review)} exam was assigned to you for QA review",
        body=f"Due {format_when(review.due_at, zone=zone)}.",
        url=reverse("qa-review", args=[review.pk]),
        exam=review.exam,
        key=f"qa-assigned:{review.pk}:{review.assignee_id}",
    )


# -- the daily digest of overdue QA reviews --------------------------------------------


def _recipients(institution_id):
    """QA leads (with a reviewing role) and administrators of an active institution."""
    return (
        Membership.objects.filter(
            Q(role=Membership.Role.ADMIN) | Q(is_qa_lead=True, role__in=REVIEWING_ROLES),
            institution_id=institution_id,
            institution__is_active=True,
            user__is_active=True,
        )
        .select_related("user", "institution", "notification_preference")
        .order_by("pk")
    )


def overdue_by_type(institution_id, now) -> list[dict]:
    """[{"name", "count", "oldest_due"}] for the institution's overdue QA reviews, the
    most overdue exam type first."""
    rows = (
        QAReview.objects.filter(
            institution_id=institution_id, state=QAReview.State.PENDING, due_at__lt=now
        )
        .values("exam_type_id", "exam_type__name")
        .annotate(count=Count("id"), oldest_due=Min("due_at"))
        .order_by("oldest_due", "exam_type__name")
    )
    return [
        {
            "name": row["exam_type__name"] or "No exam type",
            "count": row["count"],
            "oldest_due": row["oldest_due"],
        }
        for row in rows
    ]


def send_overdue_digests(now=None) -> dict:
    """For each institution running its QA program, tell its QA leads and administrators
    about overdue QA reviews: once per recipient per day (the institution's day)."""
    now = now or timezone.now()
    counts = {"institutions": 0, "told": 0}
    institution_ids = (
        QAReview.objects.filter(state=QAReview.State.PENDING, due_at__lt=now)
        .values_list("institution_id", flat=True)
        .distinct()
    )
    running = set(
        QASettings.objects.filter(
            institution_id__in=list(institution_ids), is_active=True
        ).values_list("institution_id", flat=True)
    )
    for institution_id in sorted(running):
        with transaction.atomic():
            told = overdue_digest_for(institution_id, now)
        counts["institutions"] += 1
        counts["told"] += told
    return counts


def overdue_digest_for(institution_id, now=None) -> int:
    """The digest for one institution; returns how many people were told."""
    now = now or timezone.now()
    rows = overdue_by_type(institution_id, now)
    if not rows:
        return 0
    total = sum(row["count"] for row in rows)
    title = f"{total} QA review{pluralize(total)} overdue"
    url = reverse("qa-queue") + "?overdue=1"
    told = 0
    for membership in _recipients(institution_id):
        zone = zone_of(membership.institution)
        key = OVERDUE_KEY.format(day=local(now, zone).date().isoformat())
        already = Notification.objects.filter(
            institution_id=institution_id, recipient_id=membership.user_id, key=key
        )
        if already.exists():
            continue
        lines = [f"{title} in {membership.institution.name}:", ""]
        for row in rows:
            oldest = format_when(row["oldest_due"], zone=zone)
            lines.append(f"- {row['name']}: {row['count']} overdue, the oldest due {oldest}")
        lines += ["", f"The overdue QA reviews: {absolute(url)}"]
        body = "; ".join(f"{row['name']}: {row['count']}" for row in rows)
        notify(
            membership,
            kinds.QA_OVERDUE,
            title=title,
            body=f"{body}.",
            url=url,
            key=key,
            email_lines=lines,
        )
        told += 1
    return told
