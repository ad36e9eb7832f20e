"""Making, finding, checking and revoking institution API keys.

A key reads ``cpk_<prefix>_<secret>``: ``prefix`` is 8 base32 characters (40 random
bits) that find the row; ``secret`` 32 more (160 bits) that prove possession. Only an
HMAC-SHA256 of the secret is stored, keyed with ``PORTAL_API_KEY_HASH_KEY`` or, when
that is unset, a key derived from ``SECRET_KEY``; the comparison is constant-time.
The whole key is returned once, by ``create_key``; nothing else ever sees it.
"""

import base64
import datetime
import hmac
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from portal.api.models import ApiKey
from portal.exams.models import AuditEvent
from portal.tenants.models import Membership
from portal.tenants.timezones import zone_of
from portal.text import clean_text

KEY_RE = re.compile(r"cpk_([a-z2-7]{8})_([a-z2-7]{32,64})")
# How often, at most, a key's last use is written: a busy key must not write every time.
TOUCH_EVERY = datetime.timedelta(minutes=1)
NAME_MAX = 100


class ApiKeyError(Exception):
    """A key that cannot be made or used, with the reason to show."""


class KeyRefused(ApiKeyError):
    pass


class KeyInvalid(ApiKeyError):
    pass


def _random_base32(nbytes: int) -> str:
    return base64.b32encode(secrets.token_bytes(nbytes)).decode("ascii").lower().rstrip("=")


def hash_secret(secret: str) -> str:
    """The stored form of a secret: HMAC-SHA256 with a key only the server knows."""
    key = getattr(settings, "PORTAL_API_KEY_HASH_KEY", "") or settings.SECRET_KEY
    return salted_hmac("portal.api.keys.ApiKey", secret, secret=key, algorithm="sha256").hexdigest()


def parse(text: str):
    """``(prefix, secret)`` of a key's text, or ``None`` when it is not shaped like one."""
    match = KEY_RE.fullmatch(text) if isinstance(text, str) else None
    return match.groups() if match else None


def create_key(
    membership: Membership,
    *,
    name: str,
    scope: str,
    expires_at=None,
    created_by=None,
    ip_address=None,
    via: str = "page",
) -> tuple[ApiKey, str]:
    """A new key acting as ``membership``, and its full text (shown once, never stored).

    Creating it is an event of the institution's audit log.
    """
    shown_name = clean_text(name or "", max_length=NAME_MAX).strip()
    if not shown_name:
        raise KeyInvalid("Give the key a name: what it is for.")
    if scope not in ApiKey.Scope.values:
        raise KeyInvalid(f"The scope is one of: {', '.join(ApiKey.Scope.values)}.")
    if expires_at is not None and expires_at <= timezone.now():
        raise KeyInvalid("The expiry must be in the future.")
    if not membership.institution.is_active:
        raise KeyInvalid("The institution is not active.")
    if not membership.user.is_active:
        raise KeyInvalid("The member's account is deactivated.")
    secret = _random_base32(20)
    for _attempt in range(5):
        prefix = _random_base32(5)
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    institution=membership.institution,
                    membership=membership,
                    user=membership.user,
                    name=shown_name,
                    scope=scope,
                    expires_at=expires_at,
                    created_by=created_by,
                    prefix=prefix,
                    secret_hash=hash_secret(secret),
                )
                record(key, AuditEvent.Action.CREATE_API_KEY, created_by, ip_address, via=via)
            break
        except IntegrityError:  # the prefix is taken (one chance in a trillion)
            continue
    else:  # pragma: no cover
        raise KeyInvalid("Could not pick a free key prefix; try again.")
    return key, f"cpk_{prefix}_{secret}"


def revoke_key(key: ApiKey, *, by=None, ip_address=None, via: str = "page") -> bool:
    """Revoke ``key`` now (an audit event); ``False`` when it already was revoked."""
    with transaction.atomic():
        now = timezone.now()
        changed = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=by
        )
        if not changed:
            return False
        key.revoked_at, key.revoked_by = now, by
        record(key, AuditEvent.Action.REVOKE_API_KEY, by, ip_address, via=via)
    return True


def record(key: ApiKey, action, user, ip_address, **detail):
    return AuditEvent.objects.create(
        institution_id=key.institution_id,
        user=user,
        action=action,
        object_type="apikey",
        object_id=str(key.pk),
        ip_address=ip_address,
        detail={
            "api_key": key.shown_prefix,
            "name": key.name,
            "scope": key.scope,
            "member": key.user.email if key.user else None,
            **detail,
        },
    )


@dataclass(frozen=True)
class Checked:
    key: ApiKey
    user: object
    membership: Membership


def check(text: str, now=None) -> Checked:
    """The key ``text`` names, if it may be used now; ``KeyRefused`` with the reason if not.

    An unknown key and a wrong secret get the same answer. Only someone holding the whole
    key learns that it was revoked or expired, or that its member left.
    """
    parsed = parse(text)
    if parsed is None:
        raise KeyRefused("Malformed API key: expected cpk_<prefix>_<secret>.")
    prefix, secret = parsed
    digest = hash_secret(secret)
    key = (
        ApiKey.objects.select_related("institution", "membership", "user")
        .filter(prefix=prefix)
        .first()
    )
    stored = key.secret_hash if key is not None else "0" * 64
    if not hmac.compare_digest(digest, stored) or key is None:
        raise KeyRefused("Unknown API key.")
    now = now or timezone.now()
    if key.revoked_at is not None:
        raise KeyRefused("This API key was revoked.")
    if key.expires_at is not None and key.expires_at <= now:
        raise KeyRefused("This API key has expired.")
    membership, user = key.membership, key.user
    if (
        membership is None
        or user is None
        or membership.user_id != user.pk
        or membership.institution_id != key.institution_id
    ):
        raise KeyRefused("The member this API key acts as is no longer in the institution.")
    if not user.is_active:
        raise KeyRefused("The account this API key acts as is deactivated.")
    if not key.institution.is_active:
        raise KeyRefused("The institution of this API key is not active.")
    membership.institution = key.institution  # one object, no second query
    return Checked(key=key, user=user, membership=membership)


def touch(key: ApiKey, ip_address, now=None) -> bool:
    """Note the key's use, at most once a ``TOUCH_EVERY`` per key (one conditional UPDATE)."""
    now = now or timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_EVERY:
        return False
    changed = (
        ApiKey.objects.filter(pk=key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOUCH_EVERY))
        .update(last_used_at=now, last_used_ip=ip_address)
    )
    if changed:
        key.last_used_at, key.last_used_ip = now, ip_address
    return bool(changed)


def first_use_of_day(previous, now, institution) -> bool:
    """Whether a use at ``now`` is a key's first that day in the institution's zone."""
    if previous is None:
        return True
    zone = zone_of(institution)
    return previous.astimezone(zone).date() != now.astimezone(zone).date()


def record_daily_use(request, checked: Checked) -> None:
    """The key's first request of the day, in the institution's audit log.

    Once a day rather than every request: the requests that open patient data are each
    recorded already (with the key's prefix), and a program polling every few seconds
    would bury everything else. ``touch`` lets one request a minute through, so two
    requests at midnight cannot both be first.
    """
    AuditEvent.objects.create(
        institution=checked.key.institution,
        user=checked.user,
        action=AuditEvent.Action.API_KEY_USED,
        object_type=checked.key._meta.model_name,
        object_id=str(checked.key.pk),
        ip_address=checked.key.last_used_ip,
        detail={"api_key": checked.key.shown_prefix, "name": checked.key.name},
    )


def expiry_from_date(day: datetime.date):
    """A key given an expiry date works through that day (in the portal's time zone)."""
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min)
    return timezone.make_aware(end)
