"""The Service API key: which one the portal uses, and rotating it without an outage.

The key in use lives in the database, encrypted (``ServiceApiKey``). ``CLARIUS_API_KEY``
seeds it on first use; later, a value of ``CLARIUS_API_KEY`` the store has never seen
(an operator put a new key in the environment) replaces it, while a value it has seen
(typically the onboarding key, long since rotated away) is ignored.

Rotation never leaves the portal without a working key: create a key, keep its
encrypted copy, prove it with a read call, switch to it, and only then revoke the old
one. Every step that fails stops there and says what state things are in.
"""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.clarius.api.documents import ApiKey
from integrations.clarius.api.errors import ClariusError, InvalidResponse, NotFound
from integrations.clarius.api.explain import vendor_reason
from integrations.clarius.models import ServiceApiKey
from portal import encryption as secrets

logger = logging.getLogger(__name__)
State = ServiceApiKey.State


class KeyRefused(Exception):
    """The action was refused before anything was sent; the message says why."""


def key_in_use() -> ServiceApiKey | None:
    return ServiceApiKey.objects.filter(state=State.IN_USE).first()


def api_key_in_use() -> str | None:
    """The key Service API calls carry: the stored one, else ``CLARIUS_API_KEY``."""
    env_key = settings.CLARIUS_API_KEY
    try:
        current = key_in_use()
        env_is_new = bool(env_key) and (
            current is None or current.fingerprint != secrets.fingerprint(env_key)
        )
        if env_is_new:
            env_is_new = not ServiceApiKey.objects.filter(
                fingerprint=secrets.fingerprint(env_key)
            ).exists()
    except Exception as e:  # noqa: BLE001
        # No database to read (not migrated yet, unreachable, or a context without one):
        # the environment's key is all there is. Decryption errors are not caught here.
        logger.warning("API key store unreadable (%s); using CLARIUS_API_KEY", type(e).__name__)
        return env_key
    if env_is_new and (current is not None or secrets.is_configured()):
        current = adopt(env_key)
    return current.key if current is not None else env_key


def adopt(key: str, *, source=ServiceApiKey.Source.ENVIRONMENT, name="") -> ServiceApiKey:
    """Store ``key`` encrypted and make it the key in use (the previous one is retired)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            ServiceApiKey.objects.filter(state=State.IN_USE).update(
                state=State.RETIRED, retired_at=now, note=f"Replaced by {key.split('.')[0]}.***"
            )
            return ServiceApiKey.objects.create(
                prefix=key.split(".")[0],
                name=name,
                key_encrypted=secrets.encrypt(key),
                fingerprint=secrets.fingerprint(key),
                state=State.IN_USE,
                source=source,
                activated_at=now,
            )
    except IntegrityError:  # another process stored it at the same moment
        return ServiceApiKey.objects.get(state=State.IN_USE)


def service_client(**overrides):
    from integrations.clarius.api.client import ServiceClient

    return ServiceClient.from_settings(**overrides)


# --- listing, creating, revoking ----------------------------------------------------------


@dataclass
class KeyRow:
    """A key as Clarius lists it, with what the portal knows about it."""

    prefix: str
    name: str | None
    created: object
    stored: ServiceApiKey | None

    @property
    def in_use(self) -> bool:
        return self.stored is not None and self.stored.state == State.IN_USE


def list_keys(client) -> list[KeyRow]:
    stored = {k.prefix: k for k in ServiceApiKey.objects.exclude(state=State.REVOKED)}
    return [
        KeyRow(key.prefix, key.name, key.created, stored.get(key.prefix))
        for key in client.list_api_keys()
    ]


def create_key(client, name: str) -> ApiKey:
    """A new key at Clarius, not used by the portal: its full value is shown once, here."""
    return client.create_api_key(name)


def revoke_key(client, prefix: str) -> None:
    """Revoke ``prefix`` at Clarius; the key in use is refused (rotate it instead)."""
    prefix = prefix.strip().split(".")[0]
    current = key_in_use()
    in_use_prefix = current.prefix if current else (settings.CLARIUS_API_KEY or "").split(".")[0]
    if prefix == in_use_prefix:
        raise KeyRefused(
            f"{prefix}.*** is the key this portal uses, and Clarius refuses a key that revokes "
            "itself. Rotate it instead: a new key takes over, then this one is revoked."
        )
    try:
        client.revoke_api_key(prefix)
    except NotFound:
        raise KeyRefused(f"Clarius has no key {prefix}.***.") from None
    except ClariusError as e:
        raise KeyRefused(f"Clarius refused to revoke {prefix}.***: {vendor_reason(e)}") from None
    ServiceApiKey.objects.filter(prefix=prefix).exclude(state=State.IN_USE).update(
        state=State.REVOKED, revoked_at=timezone.now(), key_encrypted="", note="Revoked."
    )


# --- rotation ------------------------------------------------------------------------------


@dataclass
class Rotation:
    """What a rotation did, step by step, in words an operator can act on."""

    ok: bool = False
    old_prefix: str = ""
    new_prefix: str = ""
    steps: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.steps.append(line)
        logger.info("key rotation: %s", line)


def rotate(name: str | None = None) -> Rotation:
    """Replace the key in use by a new one and revoke the old; see the module docstring."""
    if not secrets.is_configured():
        secrets.fernet()  # raises ImproperlyConfigured naming PORTAL_ENCRYPTION_KEY
    report = Rotation()
    api_key_in_use()  # seeds the store from CLARIUS_API_KEY if this is the first use
    old = key_in_use()
    if old is None:
        raise KeyRefused("No Service API key is configured (CLARIUS_API_KEY).")
    report.old_prefix = old.prefix
    name = name or f"Clarius portal {timezone.now():%Y-%m-%d %H:%M}"
    with closing(service_client(api_key=old.key)) as old_client:
        try:
            created = old_client.create_api_key(name)
        except ClariusError as e:
            report.say(
                f"Creating a new key failed: {vendor_reason(e)}. Nothing changed; "
                f"the portal still uses {old.masked_key}."
            )
            return report
        report.new_prefix = created.prefix
        # Keep it before anything else can fail: Clarius shows a key's secret only once.
        candidate = ServiceApiKey.objects.create(
            prefix=created.prefix,
            name=name,
            key_encrypted=secrets.encrypt(created.key),
            fingerprint=secrets.fingerprint(created.key),
            state=State.CANDIDATE,
            source=ServiceApiKey.Source.ROTATION,
        )
        report.say(f"Created {candidate.masked_key} at Clarius and stored it encrypted.")
        try:
            prove(created)
        except ClariusError as e:
            report.say(
                f"The new key failed its test call ({e}); the portal still uses {old.masked_key}."
            )
            discard(old_client, candidate, report)
            return report
        report.say(f"{candidate.masked_key} works: it lists the account's keys.")
    switch(old, candidate)
    report.say(f"The portal now uses {candidate.masked_key}.")
    with closing(service_client(api_key=created.key)) as new_client:
        try:
            new_client.revoke_api_key(old.prefix)
        except NotFound:
            pass  # already gone at Clarius: the goal is reached
        except ClariusError as e:
            mark(old, note=f"Rotation could not revoke it: {vendor_reason(e)}")
            report.say(
                f"Revoking the old key {old.masked_key} failed: {vendor_reason(e)}. "
                f"It is still valid at Clarius; revoke it with "
                f"`manage.py clarius keys revoke {old.prefix}`."
            )
            return report
    mark(old, state=State.REVOKED, note=f"Revoked by rotation to {candidate.masked_key}.")
    report.say(f"Revoked the old key {old.masked_key}.")
    report.ok = True
    return report


def prove(created: ApiKey) -> None:
    """A read call with the new key; it must list itself among the account's keys."""
    with closing(service_client(api_key=created.key)) as client:
        prefixes = [key.prefix for key in client.list_api_keys()]
    if created.prefix not in prefixes:
        raise InvalidResponse(f"{created.prefix}.*** is not among the keys it lists")


def discard(old_client, candidate: ServiceApiKey, report: Rotation) -> None:
    """Revoke an unproven new key with the old one, so no unused key is left behind."""
    try:
        old_client.revoke_api_key(candidate.prefix)
    except NotFound:
        pass
    except ClariusError as e:
        mark(candidate, note=f"Unproven and not revoked: {vendor_reason(e)}")
        report.say(
            f"Could not revoke the unused new key {candidate.masked_key} "
            f"({vendor_reason(e)}); revoke it with "
            f"`manage.py clarius keys revoke {candidate.prefix}`."
        )
        return
    mark(candidate, state=State.DISCARDED, note="Failed its test call; revoked again.")
    report.say(f"Revoked the unused new key {candidate.masked_key} again.")


def switch(old: ServiceApiKey, new: ServiceApiKey) -> None:
    now = timezone.now()
    with transaction.atomic():
        # Old first: at most one key is in use at any moment (a database constraint).
        old.state, old.retired_at = State.RETIRED, now
        old.note = f"Replaced by {new.masked_key}."
        old.save(update_fields=["state", "retired_at", "note"])
        new.state, new.activated_at = State.IN_USE, now
        new.save(update_fields=["state", "activated_at"])


def mark(key: ServiceApiKey, *, state: str | None = None, note: str = "") -> None:
    """Record what happened to a key; a revoked or discarded key's secret is wiped."""
    fields = ["note"]
    key.note = note
    if state is not None:
        key.state = state
        fields.append("state")
        if state in (State.REVOKED, State.DISCARDED):
            key.key_encrypted, key.revoked_at = "", timezone.now()
            fields += ["key_encrypted", "revoked_at"]
    key.save(update_fields=fields)
