"""The URLs this portal registers with Clarius, and the webhook secret behind one of them."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from integrations.clarius.models import NotificationEndpoint

TOKEN_PLACEHOLDER = "{token}"


def active_endpoint() -> NotificationEndpoint:
    """This installation's webhook secret, made on first use."""
    endpoint = NotificationEndpoint.objects.filter(is_active=True).first()
    if endpoint is not None:
        return endpoint
    try:
        with transaction.atomic():
            return NotificationEndpoint.objects.create()
    except IntegrityError:  # another process made it first
        return NotificationEndpoint.objects.get(is_active=True)


def rotate_endpoint() -> NotificationEndpoint:
    """A new secret; the old URL answers 404 from now on. Register again afterwards."""
    with transaction.atomic():
        NotificationEndpoint.objects.filter(is_active=True).update(
            is_active=False, retired_at=timezone.now()
        )
        return NotificationEndpoint.objects.create()


def notification_url(endpoint: NotificationEndpoint | None = None) -> str:
    endpoint = endpoint or active_endpoint()
    path = reverse("clarius-notifications", args=[endpoint.secret])
    return settings.PORTAL_BASE_URL + path


def token_transfer_url() -> str:
    # reverse() would escape the braces; the placeholder is literal for Clarius.
    path = reverse("clarius-connect", args=["TOKEN"]).replace("TOKEN", TOKEN_PLACEHOLDER)
    return settings.PORTAL_BASE_URL + path


def wanted_settings() -> dict:
    return {"notification_url": notification_url(), "token_transfer_url": token_transfer_url()}
