"""Partner webhooks: endpoints, the events they get, and each delivery.

- ``Endpoint``: an institution's receiving URL, the event types it wants and its signing
  secret (encrypted; during a rotation's overlap the previous one too);
- ``Event``: one thing that happened to an exam, with its ``webhook-id`` and the exact
  body every delivery of it sends (so receivers can dedupe on the id);
- ``Delivery``: one event to one endpoint, durable work with the webhook retry schedule;
  the outcome of its last attempt (status code, latency, response excerpt) is kept.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from portal import events
from portal.exams.models import Exam
from portal.tenants.scoping import TenantOwned
from portal.work.models import Work

EVENT_CHOICES = [(name, name) for name in events.EVENT_TYPES]
URL_LIMIT = 2000
EXCERPT_LIMIT = 1024


class Endpoint(TenantOwned):
    url = models.CharField(max_length=URL_LIMIT)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types sent to this URL.")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    secret_encrypted = models.TextField(help_text="The signing secret, encrypted.")
    previous_secret_encrypted = models.TextField(
        blank=True, help_text="The secret before the last rotation, while the overlap lasts."
    )
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="The first failure since the last success."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in (self.events or [])


class Event(TenantOwned):
    webhook_id = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=40, choices=EVENT_CHOICES)
    exam = models.ForeignKey(
        Exam, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField(help_text="The JSON body, exactly as every delivery sends it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self):
        return f"{self.type} {self.webhook_id}"


class Delivery(TenantOwned, Work):
    class State(models.TextChoices):
        PENDING = "pending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="webhooks_deliv_endpoint")]

    def __str__(self):
        return f"{self.event.type} to {self.endpoint.url}"
