"""What the portal keeps about its Clarius side: links, webhook receipts, the endpoint."""

import secrets

from django.conf import settings
from django.db import models

from portal.tenants.scoping import TenantOwned
from portal.work import Work


def mask_token(token: str) -> str:
    """Enough of a customer token to tell two apart, never enough to use one."""
    if not token:
        return ""
    return f"{token[:4]}…{token[-4:]}" if len(token) > 12 else "…"


class ClariusLink(TenantOwned, Work):
    """A member's Clarius account (customer token) linked to one institution.

    The work on a link is its Customer Confirmation, due while it is *pending*.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected by Clarius"
        REVOKED = "revoked", "Unlinked"

    token = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clarius_links"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Rejected or unlinked at.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="clarius_link_due")]

    def __str__(self):
        return f"{self.user} ↔ {self.masked_token} ({self.get_state_display()})"

    @property
    def masked_token(self):
        return mask_token(self.token)


class NotificationReceipt(Work):
    """One call Clarius made to the webhook, kept before anything else happens.

    Untrusted until validated; a rejected call is kept too, with the reason. The work on
    a receipt is fetching its exam data, due while it is *pending*.
    """

    class State(models.TextChoices):
        REJECTED = "rejected", "Rejected"
        UNASSIGNED = "unassigned", "Waiting for a linked account"
        PENDING = "pending", "Waiting to fetch"
        FETCHED = "fetched", "Fetched"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        POLL = "poll", "Catch-up poll"

    request_uuid = models.UUIDField(unique=True, null=True, blank=True)
    exam_uuid = models.UUIDField(null=True, blank=True)
    customer_id = models.CharField(max_length=200, blank=True, db_index=True)
    download_url = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEBHOOK)
    state = models.CharField(max_length=20, choices=State.choices)
    rejection_reason = models.CharField(max_length=500, blank=True)
    link = models.ForeignKey(
        ClariusLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="receipts"
    )
    raw_body = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="clarius_receipt_due")]

    def __str__(self):
        return f"Notification {self.request_uuid or '(invalid)'} · {self.get_state_display()}"

    @property
    def masked_customer_id(self):
        return mask_token(self.customer_id)


def new_endpoint_secret() -> str:
    return secrets.token_urlsafe(24)  # 192 bits


class NotificationEndpoint(models.Model):
    """The unguessable path segment of this installation's webhook URL.

    Created once; rotating it makes a new active row and retires the old one, whose URL
    then answers 404.
    """

    secret = models.CharField(max_length=100, unique=True, default=new_endpoint_secret)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="clarius_one_active_endpoint",
            ),
        ]

    def __str__(self):
        return f"Webhook endpoint {mask_token(self.secret)}"
