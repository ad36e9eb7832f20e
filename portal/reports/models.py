"""The review of an exam and the reports that come out of it.

``Findings`` is the reviewer's worksheet (one per exam). Signing locks it; anything said
after that is an ``Addendum`` with its own signer and time, and nothing signed is ever
edited. Every signature produces a ``Report``: a PDF version kept in the institution's
private media space and delivered to every destination the installation has (Clarius
first; see ``portal.reports.destinations``), each delivery a ``Delivery`` row of durable
work (``portal.work``). A version drawn from the findings starts *generating*: the worker
draws its PDF, then delivers it; the version's state sums up its deliveries.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.exams.models import Exam, Submission
from portal.tenants.scoping import TenantOwned
from portal.work.models import Work


class Findings(TenantOwned):
    """The reviewer's worksheet for one exam; read-only once signed."""

    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, related_name="findings")
    template = models.ForeignKey(
        "worksheets.WorksheetTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The worksheet version the answers belong to; a signed worksheet always "
        "renders with it.",
    )
    answers = models.JSONField(default=dict, blank=True, help_text="Field code → value.")
    views = models.JSONField(
        default=dict,
        blank=True,
        help_text='View code → "obtained" or {"not_obtained": reason}.',
    )
    key_images = models.JSONField(
        default=dict,
        blank=True,
        help_text="Capture id → caption: the images the report shows (none chosen: the first six).",
    )
    indication = models.TextField(blank=True, help_text="Why the exam was done.")
    views_obtained = models.TextField(blank=True)
    findings = models.TextField(blank=True)
    impression = models.TextField(blank=True)
    image_quality = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 (non-diagnostic) to 5 (excellent).",
    )
    clinician_feedback = models.TextField(
        "feedback to the clinician",
        blank=True,
        help_text="Shown to the clinician who performed the exam once the findings are signed.",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_as_trainee = models.BooleanField(
        default=False, help_text="Signed by a trainee: preliminary until attested."
    )
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attested_at = models.DateTimeField(null=True, blank=True)
    attestation_statement = models.TextField(
        blank=True, help_text="The institution's statement as it read when attested."
    )

    class Meta:
        verbose_name_plural = "findings"
        constraints = [
            models.CheckConstraint(
                condition=Q(image_quality__isnull=True) | Q(image_quality__range=(1, 5)),
                name="reports_findings_image_quality_1_to_5",
            ),
        ]

    def __str__(self):
        return f"Findings of {self.exam}"

    @property
    def is_signed(self):
        return self.signed_at is not None

    @property
    def is_attested(self):
        return self.attested_at is not None

    @property
    def awaiting_attestation(self):
        return self.is_signed and self.signed_as_trainee and not self.is_attested


class Addendum(TenantOwned):
    """Something added after signing; signed when written and never edited."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="addenda")
    number = models.PositiveIntegerField(help_text="1 for the first addendum of the exam.")
    text = models.TextField()
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    signed_at = models.DateTimeField()
    captures = models.ManyToManyField(
        "exams.Capture",
        blank=True,
        related_name="addenda",
        help_text="Images that arrived after signing which the addendum is about.",
    )

    class Meta:
        verbose_name_plural = "addenda"
        ordering = ["exam_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["exam", "number"], name="reports_addendum_unique"),
        ]

    def __str__(self):
        return f"Addendum {self.number} to {self.exam}"


class Report(TenantOwned, Work):
    """One PDF version of an exam's report, and the summary of its deliveries."""

    stored_files = {"file": "sha256"}  # see Capture.stored_files

    class Source(models.TextChoices):
        GENERATED = "generated", "Generated from the findings"
        UPLOADED = "uploaded", "Uploaded"

    class State(models.TextChoices):
        GENERATING = "generating", "Making the PDF"
        PENDING = "pending", "Sending"
        PUSHED = "pushed", "Sent"
        FAILED = "failed", "Failed"

    # Still on its way: its PDF is being made, or it is being sent.
    UNDER_WAY = [State.GENERATING, State.PENDING]

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="reports")
    submission = models.ForeignKey(
        Submission,
        on_delete=models.CASCADE,
        related_name="reports",
        help_text="The submission the report goes to: the exam's latest when it was made.",
    )
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200, help_text="The name Clarius shows.")
    file = models.CharField(max_length=300, help_text="Path under PORTAL_MEDIA_ROOT.")
    size = models.BigIntegerField(
        null=True, blank=True, help_text="Empty until the PDF is made (or the upload stored)."
    )
    sha256 = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    addenda_included = models.PositiveIntegerField(
        default=0,
        help_text="How many addenda this version carries: the PDF, drawn later by the "
        "worker, shows those and not the ones signed after this version was issued.",
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    pushed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last of its deliveries was made."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["exam_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["exam", "version"], name="reports_report_unique_version"
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="reports_report_due")]

    def __str__(self):
        return f"{self.name} (version {self.version} of {self.exam})"

    @property
    def filename(self):
        return f"ultrasound-report-{str(self.exam.exam_uuid)[:8]}-v{self.version}.pdf"

    @property
    def state_label(self):
        """The state as staff read it: where it is being sent, or was ("Sent to Clarius")."""
        from portal.reports.destinations import registered

        where = " and ".join(d.label for d in registered())
        if where and self.state in (self.State.PENDING, self.State.PUSHED):
            return f"{self.get_state_display()} to {where}"
        return self.get_state_display()

    @property
    def has_pdf(self):
        """Whether the file is there to download and push (``size`` is set once it is)."""
        return self.size is not None

    @property
    def can_retry(self):
        """Failed, or waiting out a backoff: "retry now" may start it at once.

        A row a worker holds right now is not offered, so a build or push never runs twice.
        """
        if self.state == self.State.FAILED:
            return True
        return self.state in self.UNDER_WAY and bool(self.last_error) and not self.is_claimed

    @property
    def is_claimed(self):
        return self.claimed_until is not None and self.claimed_until > timezone.now()


class Delivery(TenantOwned, Work):
    """A report version on its way to one destination (``portal.reports.destinations``).

    Durable work with the one retry policy; the version's own task works through its
    due deliveries (``portal.reports.tasks``), so a delivery is never sent by two workers
    at once and a version signed just before a crash is delivered all the same.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.CharField(
        max_length=50, help_text="The key of a registered destination (e.g. clarius)."
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)
    remote_id = models.CharField(
        max_length=200, blank=True, help_text="What the destination calls it, if it said."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["report_id", "destination"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["report", "destination"], name="reports_delivery_unique"
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="reports_delivery_due")]

    def __str__(self):
        return f"{self.report} to {self.destination}"

    @property
    def destination_label(self):
        from portal.reports.destinations import label_of

        return label_of(self.destination)
