"""How long a session may live, and what is kept in it to enforce that.

Three numbers per session, kept in the session itself so the check on every request
costs no query: when it started, when it was last active (written at most once per
``write_interval``), and the hash of the session key the ``UserSession`` row was made
under (the key changes on a password change; the row follows it).
"""

import hashlib
import math
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.db.models.functions import SHA256
from django.utils import timezone

from portal.tenants.middleware import memberships_of

STARTED = "_portal_session_started"
ACTIVE = "_portal_session_active"
KEY_HASH = "_portal_session_key_hash"

# The warning comes this long before the idle deadline (less for a very short timeout).
WARNING_SECONDS = 60
# Activity is written at most this often per session (less for a very short timeout).
WRITE_INTERVAL_SECONDS = 60


def key_hash(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


def idle_seconds(request) -> int:
    """The idle timeout that applies to the request's user, in seconds.

    A session is one sign-in for all of a user's institutions (the switcher changes
    institution without signing in again), so it has to satisfy the policy of every
    institution the user belongs to: the strictest, i.e. the smallest timeout, applies.
    Inactive institutions are hidden from their members and do not count. Someone with
    no membership (a superuser managing tenants) gets ``PORTAL_SESSION_IDLE_MINUTES``.
    """
    memberships = getattr(request, "memberships", None)
    if memberships is None:
        memberships = memberships_of(request.user)
    return idle_seconds_for(memberships)


def idle_seconds_for(memberships) -> int:
    """The idle timeout of someone with these (active) memberships; see ``idle_seconds``."""
    override = getattr(settings, "PORTAL_SESSION_IDLE_SECONDS_OVERRIDE", None)
    if override:
        return int(override)
    minutes = [m.institution.idle_timeout_minutes for m in memberships]
    return 60 * (min(minutes) if minutes else settings.PORTAL_SESSION_IDLE_MINUTES)


def max_seconds() -> int:
    return 3600 * settings.PORTAL_SESSION_MAX_HOURS


def warning_seconds(idle: int) -> int:
    return min(WARNING_SECONDS, max(1, idle // 2))


def write_interval(idle: int) -> int:
    """How stale the stored activity may get: a minute, or a thirtieth of a short timeout.

    The idle deadline is measured from the stored time, so a session is signed out at
    most this much before the full timeout has passed since the very last request.
    """
    return min(WRITE_INTERVAL_SECONDS, max(1, idle // 30))


@dataclass(frozen=True)
class Deadlines:
    idle: int  # the idle timeout, seconds
    idle_at: float  # epoch seconds
    absolute_at: float

    @property
    def ends_at(self) -> float:
        return min(self.idle_at, self.absolute_at)

    @property
    def limit(self) -> str:
        """Which deadline comes first: "idle" (activity extends it) or "absolute"."""
        return "absolute" if self.absolute_at < self.idle_at else "idle"

    def as_json(self, now: float) -> dict:
        return {
            "authenticated": True,
            # Rounded up: a session that is not signed out yet never shows 0 seconds left.
            "seconds_left": max(0, math.ceil(self.ends_at - now)),
            "warning_seconds": warning_seconds(self.idle),
            "limit": self.limit,
        }


def deadlines(request) -> Deadlines | None:
    """The session's deadlines, or ``None`` for a session from before this policy."""
    started = request.session.get(STARTED)
    active = request.session.get(ACTIVE)
    if not isinstance(started, int | float) or not isinstance(active, int | float):
        return None
    idle = idle_seconds(request)
    return Deadlines(idle=idle, idle_at=active + idle, absolute_at=started + max_seconds())


class _KeyHash(SHA256):
    """SHA-256 of a text column as lower-case hex, in SQL, on SQLite and PostgreSQL.

    Django's own SHA256 needs the pgcrypto extension on PostgreSQL; sha256() is built in
    (PostgreSQL 11+).
    """

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="ENCODE(SHA256(CONVERT_TO(%(expressions)s, 'UTF8')), 'hex')",
            **extra_context,
        )


def delete_stored_sessions(hashes) -> int:
    """Delete the sessions with these key hashes from Django's session store.

    Only the hash is known, so the store is searched by hashing its keys in SQL: this
    works with the database backends (``db``, and ``cached_db`` whose cached copy is
    also refused by the middleware once the ``UserSession`` row is gone).
    """
    hashes = list(hashes)
    if not hashes:
        return 0
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store, "get_model_class"):
        return 0
    model = store.get_model_class()
    # Only sessions not yet expired (an indexed column) are hashed: those saved within
    # SESSION_COOKIE_AGE, few however long the table grows without `clearsessions`.
    matching = (
        model.objects.filter(expire_date__gt=timezone.now())
        .alias(key_hash=_KeyHash("session_key"))
        .filter(key_hash__in=hashes)
    )
    deleted, _ = matching.delete()
    return deleted
