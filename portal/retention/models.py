"""One exam's media purge under its institution's retention policy, as durable work."""

from django.db import models

from portal.exams.models import Exam
from portal.tenants.scoping import TenantOwned
from portal.work.models import Work


class MediaPurge(TenantOwned, Work):
    """The removal of one exam's capture media (``portal.retention.purge``).

    Due while *pending*. The counters grow in the same transaction that marks each
    capture purged, so a purge resumed after a worker died counts nothing twice. A row
    is made again *pending* when a signed exam later has more media to remove (a
    capture that arrived after the first purge).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to purge"
        DONE = "done", "Purged"
        SKIPPED = "skipped", "Not purged (the policy no longer asks for it)"
        FAILED = "failed", "Failed"

    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, related_name="media_purge")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    due_at = models.DateTimeField(help_text="The signature plus the retention period.")
    captures_purged = models.PositiveIntegerField(default=0)
    files_deleted = models.PositiveIntegerField(default=0)
    bytes_deleted = models.BigIntegerField(default=0)
    research_files_deleted = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="retention_purge_due")]

    def __str__(self):
        return f"Media purge of {self.exam} ({self.get_state_display()})"
