"""Inviting people by email: a one-time link that makes them a member.

The token exists only in the emailed link; the database keeps its SHA-256. Accepting
is one conditional UPDATE on an open invitation, so a link works once even when it is
opened twice at the same moment.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal.accounts.addresses import normalise_email
from portal.tenants.models import Institution, Invitation, Membership

LIFETIME = timedelta(days=7)


class InvitationUnusable(Exception):
    """The link cannot be used (any more); ``reason`` is one of the keys below."""

    def __init__(self, reason: str, invitation: Invitation | None = None):
        super().__init__(reason)
        self.reason = reason  # "invalid", "accepted", "cancelled", "expired"
        self.invitation = invitation


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(institution: Institution, email: str, role: str, invited_by) -> tuple[Invitation, str]:
    """A new invitation and its token; earlier open invitations of the address are cancelled.

    Only the newest link works, so an admin who re-sends an invitation (say, with another
    role) does not leave an older one usable.
    """
    email = normalise_email(email)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.for_institution(institution).open(now).filter(email=email).update(
            cancelled_at=now
        )
        invitation = Invitation.objects.create(
            institution=institution,
            email=email,
            role=role,
            token_hash=hash_token(token),
            invited_by=invited_by,
            expires_at=now + LIFETIME,
        )
    return invitation, token


def send_invitation(invitation: Invitation, token: str) -> None:
    link = settings.PORTAL_BASE_URL + reverse("invitation-open", args=[token])
    context = {"invitation": invitation, "link": link, "days": LIFETIME.days}
    send_mail(
        subject=f"You are invited to {invitation.institution.name} on the Clarius portal",
        message=render_to_string("tenants/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


def find(token: str) -> Invitation:
    """The open invitation of ``token``; ``InvitationUnusable`` says why not otherwise.

    The token itself is the credential, so this looks across institutions: it is the
    one lookup that does not start from the request's institution.
    """
    invitation = (
        Invitation.objects.select_related("institution", "invited_by")
        .filter(token_hash=hash_token(token), institution__is_active=True)
        .first()
    )
    if invitation is None:
        raise InvitationUnusable("invalid")
    if invitation.accepted_at is not None:
        raise InvitationUnusable("accepted", invitation)
    if invitation.cancelled_at is not None:
        raise InvitationUnusable("cancelled", invitation)
    if invitation.expires_at <= timezone.now():
        raise InvitationUnusable("expired", invitation)
    return invitation


def accept(invitation: Invitation, user) -> Membership:
    """Use the invitation (once) for an existing ``user``; returns their membership.

    Someone who is already a member keeps the role they have: an admin changes roles on
    the members page, not through an old link.
    """
    with transaction.atomic():
        _claim(invitation, accepted_by=user)
        return _join(invitation, user)


def accept_as_new_user(invitation: Invitation, make_user) -> tuple:
    """Claim the invitation, then make the account with ``make_user()``; one transaction.

    The claim comes first, so when several people submit one link at once, only the one
    whose claim succeeds makes an account: the others wait on the invitation's row (or on
    SQLite's write lock), find it used and make nothing. Returns ``(user, membership)``.
    An ``IntegrityError`` from ``make_user`` (an account for the address made meanwhile
    by another way) rolls the claim back with it.
    """
    with transaction.atomic():
        _claim(invitation)
        user = make_user()
        Invitation.objects.filter(pk=invitation.pk).update(accepted_by=user)
        return user, _join(invitation, user)


def _claim(invitation: Invitation, **fields) -> None:
    """Mark the invitation used if it is still open: one conditional UPDATE, so at most
    one concurrent claim changes the row; ``InvitationUnusable`` for the others."""
    now = timezone.now()
    used = Invitation.objects.filter(pk=invitation.pk).open(now).update(accepted_at=now, **fields)
    if not used:
        raise InvitationUnusable("accepted", invitation)


def _join(invitation: Invitation, user) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        institution=invitation.institution, user=user, defaults={"role": invitation.role}
    )
    return membership
