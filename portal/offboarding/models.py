"""An export requested from the admin: durable work (``portal.work``) a worker does.

The archive is written on the worker's disk under ``PORTAL_EXPORT_DIR`` (default
``var/exports``), never served over the web: whoever offboards the institution copies it
from there and checks it with ``verify_export``.
"""

from django.conf import settings
from django.db import models

from portal.tenants.scoping import TenantOwned
from portal.work.models import Work


class InstitutionExport(TenantOwned, Work):
    class State(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        DONE = "done", "Written"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    path = models.CharField(
        max_length=500, blank=True, help_text="Where the worker wrote the archive (its disk)."
    )
    size = models.BigIntegerField(null=True, blank=True)
    manifest_sha256 = models.CharField(
        "manifest SHA-256",
        max_length=64,
        blank=True,
        help_text="Keep it apart from the archive: it shows the manifest was not replaced.",
    )
    summary = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="offboarding_export_due")]

    def __str__(self):
        return f"Export of {self.institution} ({self.get_state_display()})"
