"""Starting, touching and ending tracked sessions."""

from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.accounts.throttle import client_ip
from portal.tenants.middleware import memberships_of
from portal.text import clean_text
from portal.usersessions import audit, policy
from portal.usersessions.models import UserSession


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _user_agent(request) -> str:
    return clean_text(request.META.get("HTTP_USER_AGENT", ""), max_length=300)


def start(request, user) -> None:
    """Stamp a freshly signed-in session and record it (the ``user_logged_in`` signal)."""
    session = request.session
    if session.session_key is None:
        # login() after flush() (another user was signed in) leaves no key until saved.
        session.save()
    now = int(timezone.now().timestamp())
    session[policy.STARTED] = now
    session[policy.ACTIVE] = now
    session[policy.KEY_HASH] = policy.key_hash(session.session_key)
    UserSession.objects.update_or_create(
        key_hash=session[policy.KEY_HASH],
        defaults={
            "user": user,
            "user_agent": _user_agent(request),
            "ip_address": client_ip(request),
            "created_at": _at(now),
            "last_active_at": _at(now),
        },
    )


def touch(request, deadlines, *, force=False):
    """Record activity, at most once per write interval unless ``force``.

    Returns the new deadlines, or ``None`` when the session's row is gone: it was ended
    from another session ("Sign out everywhere", or by an administrator).
    """
    session = request.session
    now = int(timezone.now().timestamp())
    last = session.get(policy.ACTIVE, 0)
    current = policy.key_hash(session.session_key)
    recorded = session.get(policy.KEY_HASH)
    # A new key (a password change cycles it) is followed at once, or this session's row
    # would count among the "other sessions" until the next write.
    rekeyed = recorded is not None and recorded != current
    if not force and not rekeyed and now - last < policy.write_interval(deadlines.idle):
        return deadlines
    fields = {
        "key_hash": current,
        "last_active_at": _at(now),
        "ip_address": client_ip(request),
        "user_agent": _user_agent(request),
    }
    # The key changes on a password change (cycle_key): the row follows it.
    rows = UserSession.objects.filter(key_hash=recorded or current, user=request.user)
    if not rows.update(**fields):
        return None
    session[policy.ACTIVE] = now
    session[policy.KEY_HASH] = current
    return policy.deadlines(request)


def end(rows) -> int:
    """End these sessions: their rows and their entries in Django's session store."""
    hashes = [row.key_hash for row in rows]
    with transaction.atomic():
        UserSession.objects.filter(key_hash__in=hashes).delete()
        policy.delete_stored_sessions(hashes)
    return len(hashes)


def current_hash(request) -> str | None:
    key = request.session.session_key
    return policy.key_hash(key) if key else None


def prune(user, idle: int) -> None:
    """End the user's sessions that are past a deadline but were never used again."""
    now = timezone.now().timestamp()
    margin = 2 * policy.write_interval(idle)
    stale = UserSession.objects.filter(user=user).filter(
        Q(last_active_at__lt=_at(now - idle - margin))
        | Q(created_at__lt=_at(now - policy.max_seconds()))
    )
    end(list(stale))


def live(user, idle: int):
    """The user's sessions that may still be used, most recently active first."""
    now = timezone.now().timestamp()
    margin = 2 * policy.write_interval(idle)
    return UserSession.objects.filter(
        user=user,
        last_active_at__gte=_at(now - idle - margin),
        created_at__gte=_at(now - policy.max_seconds()),
    )


def member_sessions(user):
    """A member's sessions that may still be used, for their institution's administrator."""
    return list(live(user, policy.idle_seconds_for(memberships_of(user))))


def sign_out_member(request, user, institution) -> int:
    """An administrator of ``institution`` ends a member's sessions (their own current
    one excepted); the event goes to that institution's audit log only."""
    rows = UserSession.objects.filter(user=user).exclude(key_hash=current_hash(request))
    count = end(list(rows))
    audit.record(
        request,
        request.user,
        audit.SIGN_OUT_EVERYWHERE,
        institutions=[institution],
        member=user.pk,
        sessions=count,
    )
    return count
