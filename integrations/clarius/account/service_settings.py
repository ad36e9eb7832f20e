"""Clarius' settings for this service next to what the portal would register, and the
webhook secret's rotation. Shared by the admin page and ``manage.py clarius``."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from integrations.clarius.account.registration import (
    notification_url,
    rotate_endpoint,
    wanted_settings,
)
from integrations.clarius.models import mask_token

SETTING_NAMES = ("notification_url", "token_transfer_url")


@dataclass(frozen=True)
class SettingRow:
    name: str
    current: str  # what Clarius has
    wanted: str  # what this portal would register

    @property
    def matches(self) -> bool:
        return self.current == self.wanted

    @property
    def current_shown(self) -> str:
        return mask_secret_url(self.current)

    @property
    def wanted_shown(self) -> str:
        return mask_secret_url(self.wanted)


def compare_settings(client) -> list[SettingRow]:
    current, wanted = client.get_settings(), wanted_settings()
    return [SettingRow(name, getattr(current, name) or "", wanted[name]) for name in SETTING_NAMES]


def register(client):
    """PATCH Clarius' settings with this portal's two URLs; returns what Clarius has now."""
    return client.update_settings(**wanted_settings())


def rotate_webhook_secret(client):
    """A new webhook secret, registered with Clarius; the old URL answers 404 afterwards.

    One transaction around the PATCH: if Clarius refuses, nothing changed and the old URL
    keeps working. Until the commit, webhooks still arrive at the old (committed) URL, so
    no notification meets a 404 in between. On SQLite the write lock is held for the
    PATCH's duration (normally milliseconds): webhook writes wait for it, not fail.
    """
    with transaction.atomic():
        endpoint = rotate_endpoint()
        return client.update_settings(notification_url=notification_url(endpoint))


def mask_secret_url(url):
    """The webhook URL with its secret segment masked."""
    if not url or "/clarius/notifications/" not in url:
        return url
    head, _, rest = url.partition("/clarius/notifications/")
    secret = rest.strip("/")
    return f"{head}/clarius/notifications/{mask_token(secret)}/"
