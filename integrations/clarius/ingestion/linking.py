"""Linking a member's Clarius account (customer token) to an institution, and unlinking.

A link starts *pending*; the worker sends Customer Confirmation after the commit and
moves it to *confirmed* or *rejected*. Notifications that arrived for the token before
it was confirmed wait as *unassigned* and are ingested once it is.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone

from integrations.clarius.ingestion import notifications
from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal import work
from portal.work.registry import nudge

# The token transfer URL is a plain GET that any site can make a logged-in browser open
# (a link, a redirect): it cannot tell Clarius' Connect from a planted token. A token kept
# from it is only offered for linking for a short while, long enough to log in.
CONNECT_TOKEN_LIFETIME = timedelta(minutes=10)
SESSION_CONNECT_TOKEN = "clarius_connect_token"
MASK = "\u2022" * 6


class ConnectTokenExpired(Exception):
    """The token in the session is older than ``CONNECT_TOKEN_LIFETIME``; it was dropped."""


def keep_connect_token(session, token: str) -> None:
    session[SESSION_CONNECT_TOKEN] = {"token": token, "at": timezone.now().isoformat()}


def connect_token(session) -> str | None:
    """The token kept by the token transfer URL, if any and still fresh.

    ``ConnectTokenExpired`` (after dropping it) when it is too old, or kept in an older
    form without its time.
    """
    kept = session.get(SESSION_CONNECT_TOKEN)
    if not kept:
        return None
    try:
        token, kept_at = kept["token"], datetime.fromisoformat(kept["at"])
        fresh = timezone.now() - kept_at < CONNECT_TOKEN_LIFETIME
    except (TypeError, KeyError, ValueError):
        fresh = False
    if not fresh:
        forget_connect_token(session)
        raise ConnectTokenExpired
    return token


def forget_connect_token(session) -> None:
    session.pop(SESSION_CONNECT_TOKEN, None)


def masked(token: str) -> str:
    """What the link page shows of a token: its last four characters only."""
    return MASK + token[-4:]


@dataclass
class KnownToken:
    """What the portal already knows of a token, for the page that offers to link it.

    Clarius says nothing about the account behind a token before it is confirmed, so this
    is all there is to recognise it by. Another user's link is described without naming
    them: holding a token must not reveal who else linked it.
    """

    own_link: ClariusLink | None = None  # this user's link of the token, in any state
    other_users_link_state: str = ""  # the state of another user's link of it
    waiting: int = 0  # notifications received for it, waiting for a link
    latest_submitted_at: datetime | None = None


def known_about(token: str, user) -> KnownToken:
    known = KnownToken()
    link = ClariusLink.objects.filter(token=token).select_related("institution").first()
    if link is not None and link.user_id == user.pk:
        known.own_link = link
    elif link is not None:
        known.other_users_link_state = link.get_state_display()
    waiting = NotificationReceipt.objects.filter(
        customer_id=token, state=NotificationReceipt.State.UNASSIGNED
    ).aggregate(n=Count("pk"), latest=Max("submitted_at"))
    known.waiting, known.latest_submitted_at = waiting["n"], waiting["latest"]
    return known


class LinkRefused(Exception):
    """The token cannot be linked by this user; the message is shown to them."""


@dataclass
class LinkResult:
    link: ClariusLink
    created: bool  # False: the same user had already linked this token here


def link_token(user, institution, token: str) -> LinkResult:
    with transaction.atomic():
        link = ClariusLink.objects.select_for_update().filter(token=token).first()
        if link is not None and link.state in (
            ClariusLink.State.PENDING,
            ClariusLink.State.CONFIRMED,
        ):
            if link.user_id != user.pk:
                raise LinkRefused(
                    "This Clarius account is already linked to another portal user. "
                    "Nothing was changed. If this is your account, ask your institution's "
                    "administrator to unlink it first."
                )
            if link.institution_id != institution.pk:
                raise LinkRefused(
                    f"This Clarius account is already linked to {link.institution.name}. "
                    "Unlink it there first to link it to another institution."
                )
            return LinkResult(link, created=False)
        if link is None:
            link = ClariusLink(token=token)
        # A rejected or unlinked token may be linked again, by whoever holds it now.
        link.user, link.institution = user, institution
        link.state = ClariusLink.State.PENDING
        link.attempts, link.confirmed_at, link.ended_at = 0, None, None
        work.schedule_now(link)
        try:
            with transaction.atomic():
                link.save()
        except IntegrityError:
            raise LinkRefused(
                "This Clarius account was linked a moment ago by someone else."
            ) from None
        nudge(link)
    return LinkResult(link, created=True)


def mark_confirmed(link: ClariusLink) -> int:
    """Record Clarius' confirmation and hand over notifications that were waiting for it.

    Returns how many waiting notifications were assigned to the link.
    """
    with transaction.atomic():
        link.state = ClariusLink.State.CONFIRMED
        link.confirmed_at = timezone.now()
        link.save(update_fields=["state", "confirmed_at", "updated_at", *work.finish(link)])
        return notifications.assign_waiting(link)


def mark_rejected(link: ClariusLink, reason: str) -> None:
    link.state = ClariusLink.State.REJECTED
    link.ended_at = timezone.now()
    fields = work.finish(link)
    link.last_error = reason
    link.save(update_fields=["state", "ended_at", "updated_at", *fields])


def unlink(link: ClariusLink) -> None:
    """Stop ingesting for this token. Exams already received stay with the institution."""
    link.state = ClariusLink.State.REVOKED
    link.ended_at = timezone.now()
    link.save(update_fields=["state", "ended_at", "updated_at", *work.finish(link)])
