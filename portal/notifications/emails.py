"""Emails: rendered when decided (in the change's transaction), sent by the worker.

Every email carries a link to unsubscribe from its kind (a signed token: one click
shows a confirmation page, its POST unsubscribes) and the ``List-Unsubscribe`` headers
mail clients offer as a button (RFC 2369 and RFC 8058's one-click POST). By default an
email names no patient: generic words and a link into the portal, whose pages apply
their own access rule. An institution may allow the patient's name and identifier
(``Institution.email_patient_identifiers``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal import work
from portal.notifications import kinds
from portal.notifications.models import Email
from portal.text import clean_text
from portal.work.registry import nudge

logger = logging.getLogger(__name__)

State = Email.State
UNSUBSCRIBE_SALT = "portal.notifications.unsubscribe"


def absolute(path: str) -> str:
    """A link in an email names the portal's configured address, never a request's Host."""
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}"


def unsubscribe_token(membership_id: int, preference: str) -> str:
    return signing.dumps({"m": membership_id, "k": preference}, salt=UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """The membership and preference a token names; ``None`` if it was not ours."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    membership_id, preference = data.get("m"), data.get("k")
    if not isinstance(membership_id, int) or preference not in kinds.PREFERENCES:
        return None
    return membership_id, preference


def unsubscribe_url(membership_id: int, preference: str) -> str:
    token = unsubscribe_token(membership_id, preference)
    return absolute(reverse("notifications-unsubscribe", args=[token]))


def patient_words(exam) -> str:
    """The patient's name and identifier, for an institution that allows them in emails."""
    if exam is None or not exam.institution.email_patient_identifiers:
        return ""
    patient = getattr(exam, "patient", None)
    if patient is None:
        return ""
    name = clean_text(patient.display_name, max_length=200)
    identifier = clean_text(patient.identifier, max_length=200)
    if name and identifier:
        return f"{name} (ID {identifier})"
    return name or (f"ID {identifier}" if identifier else "")


def queue_email(
    membership, kind: str, *, subject: str, lines: list[str], link: str, notification=None
) -> Email:
    """Render and record one email to ``membership``'s user, due now; the worker is
    nudged after the commit. ``lines``: the message, already free of patient data unless
    the institution allows it."""
    preference = kinds.PREFERENCE_OF[kind]
    unsubscribe = unsubscribe_url(membership.pk, preference)
    body = render_to_string(
        "notifications/email.txt",
        {
            "lines": lines,
            "link": link,
            "institution": membership.institution.name,
            "unsubscribe": unsubscribe,
            "kind_label": kinds.LABELS[preference].lower(),
        },
    )
    email = Email(
        institution_id=membership.institution_id,
        notification=notification,
        kind=kind,
        to=membership.user.email,
        subject=" ".join(subject.split())[:250],
        body=body,
        unsubscribe_url=unsubscribe,
    )
    work.schedule_now(email)
    email.save()
    nudge(email)
    return email


def send_email(email_id: int) -> str:
    """The worker's half: send one queued email; record the outcome."""
    email = work.claim(Email, email_id, state=State.QUEUED)
    if email is None:  # sent already, failed for good, held by another worker, or backing off
        return "not queued"
    message = EmailMessage(
        subject=email.subject,
        body=email.body,
        to=[email.to],
        headers={
            "List-Unsubscribe": f"<{email.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    try:
        message.send()
    except Exception as e:
        # The mail server may be down for a while: retried with the one policy, and
        # shown as *failed* (admin › Emails) when it gives up.
        logger.exception("email %s could not be sent", email.pk)
        outcome, fields = work.fail_or_give_up(
            email, f"{type(e).__name__}: {e}", failed_state=State.FAILED
        )
        email.save(update_fields=fields)
        return State.FAILED if outcome == "failed" else "retry"
    email.state = State.SENT
    email.sent_at = timezone.now()
    email.save(update_fields=["state", "sent_at", *work.finish(email)])
    return State.SENT
