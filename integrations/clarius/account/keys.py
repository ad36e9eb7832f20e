"""The Service API key: which one the portal uses; listing, creating, revoking keys.

The key in use lives in the database, encrypted (``ServiceApiKey``). ``CLARIUS_API_KEY``
seeds it on first use; later, a value of ``CLARIUS_API_KEY`` the store has never seen
(an operator put a new key in the environment) replaces it, while a value it has seen
(typically the onboarding key, long since rotated away) is ignored.

Nothing here builds a client (``clients.py`` reads the key in use from here); the
functions that call Clarius are given one. Rotation is ``rotation.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.clarius.api.documents import ApiKey
from integrations.clarius.api.errors import ClariusError, NotFound
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
