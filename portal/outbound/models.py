"""Where an institution's results go beyond Clarius: its PACS and EHR destinations.

- ``Destination``: one configured receiver of an institution (a PACS by DICOM C-STORE or
  DICOMweb STOW-RS, an EHR by HL7 v2 over MLLP, a FHIR server). Its ``kind`` is the key of
  an entry in ``portal.outbound.kinds``, which an integration registers; the core knows
  no protocol. Its settings are plain (host, port, AE titles, URL); its secret (a token,
  a client secret) is encrypted at rest like the Clarius key.
- ``Transmission``: one object or message to one destination (an image, a clip, a
  research file, a report version), durable work with the one retry policy. The rows
  are the delivery log the exam page and the destination page show.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from portal import encryption
from portal.exams.models import Capture, Exam
from portal.reports.models import Report
from portal.tenants.scoping import TenantOwned
from portal.work.models import Work

ANSWER_LIMIT = 2000


class Destination(TenantOwned):
    name = models.CharField(max_length=100, help_text="What staff call it (“Main PACS”).")
    kind = models.CharField(
        max_length=20, help_text="The key of a registered kind (dicom, dicomweb, hl7, fhir)."
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="The kind's settings: host, port, AE titles, URL…"
    )
    secret_encrypted = models.TextField(
        blank=True, help_text="The kind's secret (a token), encrypted; empty when none."
    )
    send_images = models.BooleanField(
        default=True, help_text="Images and clips, when the exam is ready."
    )
    send_report = models.BooleanField(
        default=True, help_text="The report, when signed, and each new version after."
    )
    is_active = models.BooleanField(default=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="The first failure since the last success."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the admins were told it has been failing."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["institution_id", "name", "pk"]

    def __str__(self):
        return self.name

    @property
    def secret(self) -> str:
        return encryption.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = encryption.encrypt(value) if value else ""

    @property
    def kind_entry(self):
        from portal.outbound import kinds

        return kinds.get(self.kind)

    @property
    def kind_label(self) -> str:
        entry = self.kind_entry
        return entry.label if entry else self.kind

    @property
    def address(self) -> str:
        """Where it sends, in a line (“PACS@pacs.example.org:104”), never the secret."""
        entry = self.kind_entry
        return entry.describe(self) if entry else ""

    def option(self, name: str, default=None):
        return (self.options or {}).get(name, default)


class Transmission(TenantOwned, Work):
    """One object or message on its way to one destination."""

    stored_files = {"source": ""}  # see exams.Capture.stored_files

    class State(models.TextChoices):
        PENDING = "pending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    class What(models.TextChoices):
        IMAGE = "image", "Image"
        CLIP = "clip", "Clip"
        RESEARCH = "research", "Research DICOM"
        REPORT = "report", "Report"

    class ResultStatus(models.TextChoices):
        # HL7 v2 OBR-25 result status, which FHIR and DICOM read too.
        PRELIMINARY = "P", "Preliminary"
        FINAL = "F", "Final"
        CORRECTED = "C", "Corrected"

    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="transmissions"
    )
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="transmissions")
    what = models.CharField(max_length=20, choices=What.choices)
    capture = models.ForeignKey(
        Capture, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    report = models.ForeignKey(
        Report, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    source = models.CharField(
        max_length=300,
        blank=True,
        help_text="A file under PORTAL_MEDIA_ROOT the core does not model (a research "
        "DICOM export), sent as received.",
    )
    result_status = models.CharField(
        max_length=1, choices=ResultStatus.choices, blank=True, help_text="Reports only."
    )
    uid = models.CharField(
        max_length=64,
        blank=True,
        help_text="What the object is called there: its SOP Instance UID, or the HL7 "
        "message control ID.",
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)
    remote_answer = models.TextField(
        blank=True, help_text="What the destination answered last (a status, an ACK)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["exam_id", "destination_id", "pk"]
        constraints = [
            # Planning twice (a second "ready", a retried signing) never sends twice.
            models.UniqueConstraint(
                fields=["destination", "capture"],
                condition=Q(capture__isnull=False),
                name="outbound_transmission_unique_capture",
            ),
            models.UniqueConstraint(
                fields=["destination", "report"],
                condition=Q(report__isnull=False),
                name="outbound_transmission_unique_report",
            ),
            models.UniqueConstraint(
                fields=["destination", "exam", "source"],
                condition=~Q(source=""),
                name="outbound_transmission_unique_source",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="outbound_trans_due"),
            models.Index(fields=["destination", "state"], name="outbound_trans_by_dest"),
        ]

    def __str__(self):
        return f"{self.get_what_display()} of {self.exam} to {self.destination}"
