"""Rotating the Service API key without an outage.

Rotation never leaves the portal without a working key: create a key, keep its
encrypted copy, prove it with a read call, switch to it, and only then revoke the old
one. Every step that fails stops there and says what state things are in.
"""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from integrations.clarius import clients
from integrations.clarius.account.keys import KeyRefused, api_key_in_use, key_in_use
from integrations.clarius.api.documents import ApiKey
from integrations.clarius.api.errors import ClariusError, InvalidResponse, NotFound
from integrations.clarius.api.explain import vendor_reason
from integrations.clarius.models import ServiceApiKey
from portal import encryption as secrets

logger = logging.getLogger(__name__)
State = ServiceApiKey.State


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
    with closing(clients.service_client(api_key=old.key)) as old_client:
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
    with closing(clients.service_client(api_key=created.key)) as new_client:
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
    with closing(clients.service_client(api_key=created.key)) as client:
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
