"""Deciding who is told what: rows only, in the transaction of the change.

``on_event`` is subscribed to ``portal.events`` (so it runs inside the transaction that
signed the findings or made the exam ready) and ``notify`` writes the inbox row and, as
the member chose, the email row; the sending happens in the worker after the commit.
"""

from __future__ import annotations

from django.urls import reverse

from portal import events
from portal.notifications import kinds
from portal.notifications.emails import absolute, patient_words, queue_email
from portal.notifications.models import DigestEntry, Notification, NotificationPreference
from portal.tenants.models import Membership
from portal.tenants.roles import REVIEWING_ROLES

Frequency = NotificationPreference.Frequency


def preference_of(membership) -> NotificationPreference:
    """The member's choices; the defaults (unsaved) when they never changed them."""
    try:
        return membership.notification_preference
    except NotificationPreference.DoesNotExist:
        return NotificationPreference(membership=membership)


def notify(
    membership,
    kind: str,
    *,
    title: str,
    body: str = "",
    url: str = "",
    exam=None,
    key: str = "",
    email_lines: list[str] | None = None,
) -> Notification:
    """Tell ``membership``'s user in its institution; email them too if they want it.

    ``title`` and ``body`` name no patient (the inbox is shown to the recipient only, but
    the rule is one: notifications never hold patient data). The email's subject and
    lines may add what the institution allows (see ``emails.patient_words``): of the
    exam's patient, when there is an exam, after the title.
    """
    notification = Notification.objects.create(
        institution_id=membership.institution_id,
        recipient_id=membership.user_id,
        kind=kind,
        exam=exam,
        title=title,
        body=body,
        url=url,
        key=key,
    )
    if (
        membership.user.is_active
        and membership.user.email
        and preference_of(membership).wants_email(kind)
    ):
        subject = _with_patient(title, exam) if exam else title
        queue_email(
            membership,
            kind,
            subject=subject,
            lines=email_lines or ([subject + ".", body] if exam else [title, body]),
            # The inbox entry opens the page: it marks the notification read and switches
            # to its institution, and the page applies its own access rule.
            link=absolute(reverse("notification-open", args=[notification.pk])),
            notification=notification,
        )
    return notification


def exam_path(exam) -> str:
    return reverse("exam-detail", args=[exam.pk])


def on_event(event_type: str, exam, **data) -> None:
    if event_type == events.EXAM_SIGNED:
        feedback_signed(exam)
    elif event_type == events.EXAM_READY:
        new_exam(exam)


def _with_patient(words: str, exam) -> str:
    patient = patient_words(exam)
    return f"{words}: {patient}" if patient else words


def feedback_signed(exam) -> None:
    """The clinician who performed the exam (its operator), if still a member there."""
    if exam.operator_id is None or exam.operator_id == _last_signer(exam):
        return  # nobody to tell, or they signed it themselves
    membership = (
        Membership.objects.filter(
            institution_id=exam.institution_id,
            user_id=exam.operator_id,
            institution__is_active=True,
        )
        .select_related("user", "institution", "notification_preference")
        .first()
    )
    if membership is None:
        return
    title = "Feedback was signed on an exam you performed"
    notify(
        membership,
        kinds.FEEDBACK_SIGNED,
        title=title,
        body="Open the exam to read the reviewer's findings.",
        url=exam_path(exam),
        exam=exam,
    )


def _last_signer(exam) -> int | None:
    """Who signed the findings just now: the attending who attested, else the signer."""
    from portal.reports.models import Findings

    signers = Findings.objects.filter(exam_id=exam.pk).values_list("attested_by_id", "signed_by_id")
    for attested_by, signed_by in signers[:1]:
        return attested_by or signed_by
    return None


def new_exam(exam) -> None:
    """Every reviewer of the exam's institution, as each chose: now, in the digest, never."""
    memberships = (
        Membership.objects.filter(
            institution_id=exam.institution_id,
            role__in=REVIEWING_ROLES,
            institution__is_active=True,
            user__is_active=True,
        )
        .exclude(user_id=exam.operator_id)
        .select_related("user", "institution", "notification_preference")
    )
    title = "A new exam is ready to review"
    for membership in memberships:
        frequency = preference_of(membership).new_exam
        if frequency == Frequency.EACH:
            notify(
                membership,
                kinds.NEW_EXAM,
                title=title,
                body="Every capture of it has arrived.",
                url=exam_path(exam),
                exam=exam,
            )
        elif frequency == Frequency.DAILY:
            DigestEntry.objects.get_or_create(
                institution_id=exam.institution_id, membership=membership, exam=exam
            )
