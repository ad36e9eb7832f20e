"""What the portal keeps about its Clarius side: links, webhook receipts, the endpoint,
the service account (API keys, preset history) and research exports."""

import secrets

from django.conf import settings
from django.db import models

from portal.tenants.scoping import TenantOwned
from portal.work.models import Work


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
    # The bytes exactly as received (NUL and invalid UTF-8 included, which a text column
    # on PostgreSQL cannot hold); only the first 4 KiB of a rejected call.
    raw_body = models.BinaryField(blank=True, default=b"")
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

    @property
    def body(self) -> bytes:
        """The raw body as bytes (PostgreSQL hands a BinaryField back as a memoryview)."""
        return bytes(self.raw_body or b"")

    @property
    def body_text(self) -> str:
        """The raw body for reading: UTF-8 where it is, invisible characters shown as escapes.

        NUL, controls and bidi overrides become ``\\u0000``-style escapes and invalid bytes
        ``\\xff``, so what was sent is seen as sent and cannot disturb the page.
        """
        text = self.body.decode("utf-8", errors="backslashreplace")
        return "".join(c if c.isprintable() or c in "\n\t" else f"\\u{ord(c):04x}" for c in text)


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


# --- The service account ------------------------------------------------------------


class ServiceApiKey(models.Model):
    """A Service API key this portal has held; the secret itself is encrypted at rest.

    One row is *in use* at a time: the key every Service API call carries. Rotation makes
    a *candidate* first and keeps its encrypted copy before anything else happens, so a
    key Clarius created is never lost, even if the portal stops midway. The secret of a
    revoked or discarded key is wiped; its fingerprint stays, so an old
    ``CLARIUS_API_KEY`` is recognised and never brought back into use.
    """

    class State(models.TextChoices):
        CANDIDATE = "candidate", "Created, not in use yet"
        IN_USE = "in_use", "In use"
        RETIRED = "retired", "Replaced, still valid at Clarius"
        REVOKED = "revoked", "Revoked"
        DISCARDED = "discarded", "Discarded"

    class Source(models.TextChoices):
        ENVIRONMENT = "environment", "CLARIUS_API_KEY"
        ROTATION = "rotation", "Rotation"

    prefix = models.CharField(max_length=32, db_index=True)
    name = models.CharField(max_length=200, blank=True)
    key_encrypted = models.TextField(blank=True, help_text="Fernet; empty once revoked.")
    fingerprint = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key.")
    state = models.CharField(max_length=20, choices=State.choices)
    source = models.CharField(max_length=20, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, help_text="What happened to this key last.")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        constraints = [
            models.UniqueConstraint(
                fields=["state"],
                condition=models.Q(state="in_use"),
                name="clarius_one_api_key_in_use",
            ),
        ]

    def __str__(self):
        return f"{self.masked_key} ({self.get_state_display()})"

    @property
    def masked_key(self):
        return f"{self.prefix}.***"

    @property
    def key(self) -> str:
        from portal.encryption import decrypt

        if not self.key_encrypted:
            raise ValueError(f"the secret of {self.masked_key} is no longer kept")
        return decrypt(self.key_encrypted)


class AccountSettings(NotificationEndpoint):
    """No data of its own: the admin's "Service settings" page (Clarius settings, webhook)."""

    class Meta:
        proxy = True
        verbose_name = "service settings"
        verbose_name_plural = "service settings"


class NotificationRecordLog(NotificationReceipt):
    """No data of its own: the admin page of Clarius' webhook log, matched to receipts."""

    class Meta:
        proxy = True
        verbose_name = "notification record (Clarius' log)"
        verbose_name_plural = "notification records (Clarius' log)"


class PresetChange(models.Model):
    """Who pushed which annotation presets to Clarius, and when (Clarius keeps no history)."""

    class Action(models.TextChoices):
        SAVE = "save", "Saved"
        RESET = "reset", "Reset"

    application_uuid = models.CharField(max_length=64, db_index=True)
    application_name = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    annotations = models.JSONField(default=list, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=20, help_text="admin or command")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "annotation preset"

    def __str__(self):
        return f"{self.get_action_display()} {self.application_name or self.application_uuid}"


# --- Research API ---------------------------------------------------------------------


class ResearchAccount(models.Model):
    """A member's Clarius research login: the token only, encrypted; never the password."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="research_account"
    )
    username = models.CharField(max_length=254)
    token_encrypted = models.TextField()
    connected_at = models.DateTimeField()

    def __str__(self):
        return f"Research account {self.username} of {self.user}"

    @property
    def token(self) -> str:
        from portal.encryption import decrypt

        return decrypt(self.token_encrypted)


class DicomExport(TenantOwned, Work):
    """A DICOM export of an exam, requested from Clarius and kept in the portal's storage.

    Clarius' link lasts 7 days; the portal's copy lasts as long as the exam. The work is
    asking Clarius and downloading the file, due while *pending* (and retried while
    Clarius is still processing the exam).
    """

    stored_files = {"file": "sha256"}  # see exams.Capture.stored_files

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for Clarius"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    exam = models.ForeignKey("exams.Exam", on_delete=models.CASCADE, related_name="dicom_exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    parameters = models.JSONField(default=dict, blank=True, help_text="As sent to Clarius.")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    file = models.CharField(max_length=300, blank=True, help_text="Path under PORTAL_MEDIA_ROOT.")
    content_type = models.CharField(max_length=100, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    tags = models.JSONField(default=dict, blank=True, help_text="Main DICOM tags of the file.")
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="clarius_dicom_due")]

    def __str__(self):
        return f"DICOM export {self.pk} of {self.exam}"


class RawDataFile(TenantOwned, Work):
    """One capture's research raw data, downloaded on request into the portal's storage."""

    stored_files = {"file": "sha256"}  # see exams.Capture.stored_files

    class State(models.TextChoices):
        PENDING = "pending", "Downloading"
        DONE = "done", "Downloaded"
        FAILED = "failed", "Failed"

    exam = models.ForeignKey("exams.Exam", on_delete=models.CASCADE, related_name="raw_data_files")
    capture_uuid = models.UUIDField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    file = models.CharField(max_length=300, blank=True, help_text="Path under PORTAL_MEDIA_ROOT.")
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["exam", "capture_uuid"], name="clarius_raw_data_once_per_capture"
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="clarius_raw_due")]

    def __str__(self):
        return f"Raw data of capture {self.capture_uuid}"
