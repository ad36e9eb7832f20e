"""The QA program and credentialing, per institution.

- ``QASettings``: the institution's rules (sampling, double reads, turnaround, the
  privileges gate, the total credentialing asks for). One row, made on first use.
- ``ExamTypeQA``: per exam type, the QA-passed exams credentialing requires and the
  institution's extra QA questions.
- ``QAReview``: one QA read of one exam (``read`` 1 is the QA review the clinician gets
  feedback from and credentialing counts; ``read`` 2 is the blinded second read of a
  calibration sample). Pending until scored; the queue is the pending ones.
- ``Credential``: an operator credentialed for an exam type, by count (written the moment
  the threshold is reached) or by an administrator's grant with a note.
- ``Outcome``: what the patient turned out to have (a confirmatory study), per worksheet
  finding, for each operator's sensitivity and specificity.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from portal.qa import rubric
from portal.tenants.scoping import TenantOwned

# ACEP's figures (Ultrasound Guidelines, 2023): 25–50 QA'd exams per application,
# 5–10 per ultrasound-guided procedure, 150–300 in total. Editable per institution.
DEFAULT_REQUIRED = 25
DEFAULT_PROCEDURE_REQUIRED = 10
DEFAULT_TOTAL_REQUIRED = 150
PROCEDURE_CODES = frozenset({"vascular_access", "nerve_block", "paracentesis", "thoracentesis"})


def default_required(exam_type_code: str) -> int:
    return DEFAULT_PROCEDURE_REQUIRED if exam_type_code in PROCEDURE_CODES else DEFAULT_REQUIRED


class QASettings(TenantOwned):
    class Assignment(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round-robin among QA reviewers"
        MANUAL = "manual", "By hand (a QA lead assigns)"

    institution = models.OneToOneField(
        "tenants.Institution", on_delete=models.CASCADE, related_name="qa_settings"
    )
    # Off until the institution starts its program: an institution that has granted no
    # credentials yet would otherwise see every operator's own reads go preliminary.
    is_active = models.BooleanField(
        "QA program running",
        default=False,
        help_text="Select exams for QA by the rules below, and gate reports on privileges.",
    )
    sample_percent = models.PositiveSmallIntegerField(
        "credentialed operators' exams sampled (%)",
        default=10,
        validators=[MaxValueValidator(100)],
        help_text="Exams of trainees and of operators not yet credentialed for the exam type "
        "are always reviewed; this share of everyone else's is sampled at random.",
    )
    double_read_percent = models.PositiveSmallIntegerField(
        "blinded double reads (%)",
        default=5,
        validators=[MaxValueValidator(100)],
        help_text="The share of QA reviews read again, blind, by a second QA reviewer to "
        "measure how well reviewers agree.",
    )
    turnaround_hours = models.PositiveSmallIntegerField(
        "QA turnaround target (hours)",
        default=72,
        validators=[MinValueValidator(1), MaxValueValidator(2160)],
        help_text="A QA review is due this long after the exam is selected.",
    )
    assignment = models.CharField(
        max_length=20, choices=Assignment.choices, default=Assignment.ROUND_ROBIN
    )
    privileges_gate = models.BooleanField(
        "operators need privileges",
        default=True,
        help_text="An operator who documents an exam of a type they are not credentialed "
        "for signs it as preliminary: it waits for an attending's attestation.",
    )
    total_required = models.PositiveIntegerField(
        "QA-passed exams required in total",
        default=DEFAULT_TOTAL_REQUIRED,
        validators=[MinValueValidator(1), MaxValueValidator(100000)],
    )

    def __str__(self):
        return f"QA settings of {self.institution}"


class ExamTypeQA(TenantOwned):
    exam_type = models.OneToOneField(
        "worksheets.ExamType", on_delete=models.CASCADE, related_name="qa"
    )
    required_passed = models.PositiveIntegerField(
        "QA-passed exams required",
        default=DEFAULT_REQUIRED,
        validators=[MinValueValidator(1), MaxValueValidator(100000)],
    )
    questions = models.JSONField(
        default=list,
        blank=True,
        help_text="The institution's extra QA questions for this exam type: worksheet "
        "fields (portal.worksheets.engine), asked after image quality and interpretation.",
    )

    class Meta:
        verbose_name = "exam type QA"

    def __str__(self):
        return f"QA of {self.exam_type}"


class QAReview(TenantOwned):
    class Reason(models.TextChoices):
        TRAINEE = "trainee", "Trainee"
        IN_TRAINING = "in_training", "Not yet credentialed"
        SAMPLED = "sampled", "Random sample"
        FLAGGED = "flagged", "Flagged by a reviewer"
        DOUBLE_READ = "double_read", "Blinded second read"

    class State(models.TextChoices):
        PENDING = "pending", "To review"
        DONE = "done", "Reviewed"

    FIRST_READ, SECOND_READ = 1, 2

    exam = models.ForeignKey("exams.Exam", on_delete=models.CASCADE, related_name="qa_reviews")
    read = models.PositiveSmallIntegerField(
        default=FIRST_READ, validators=[MinValueValidator(1), MaxValueValidator(2)]
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    # Who is judged and for what, as it stood when the exam was selected: the counts of
    # credentialing never move when an exam is reassigned later.
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="qa_reviews_of",
    )
    exam_type = models.ForeignKey(
        "worksheets.ExamType", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="qa_assigned",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    flag_note = models.TextField(blank=True)
    image_quality = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    interpretation = models.CharField(max_length=20, choices=rubric.INTERPRETATIONS, blank=True)
    interpretation_note = models.TextField(blank=True)
    answers = models.JSONField(default=dict, blank=True, help_text="The extra questions' answers.")
    feedback = models.TextField("feedback to the clinician", blank=True)
    passed = models.BooleanField(null=True, blank=True)
    scored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = "QA review"
        constraints = [
            models.UniqueConstraint(fields=["exam", "read"], name="qa_review_unique_read"),
            models.CheckConstraint(
                condition=Q(image_quality__isnull=True) | Q(image_quality__range=(1, 5)),
                name="qa_review_quality_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(state="pending") | Q(scored_at__isnull=False, passed__isnull=False),
                name="qa_review_done_is_scored",
            ),
        ]
        indexes = [
            models.Index(fields=["institution", "state", "due_at"], name="qa_review_queue"),
            models.Index(
                fields=["institution", "assignee", "state", "due_at"], name="qa_review_assignee"
            ),
            models.Index(
                fields=["institution", "operator", "exam_type", "state"],
                name="qa_review_operator",
            ),
            models.Index(fields=["institution", "scored_at"], name="qa_review_scored"),
        ]

    def __str__(self):
        return f"QA read {self.read} of {self.exam}"

    @property
    def is_done(self):
        return self.state == self.State.DONE


class Credential(TenantOwned):
    class Basis(models.TextChoices):
        COUNT = "count", "Credentialed by count"
        GRANT = "grant", "Credentialed by an administrator"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qa_credentials"
    )
    exam_type = models.ForeignKey(
        "worksheets.ExamType", on_delete=models.CASCADE, related_name="qa_credentials"
    )
    basis = models.CharField(max_length=10, choices=Basis.choices)
    since = models.DateTimeField(help_text="When the threshold was reached, or the grant made.")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(
        blank=True, help_text="Why, for a grant (e.g. credentialed at another hospital)."
    )

    class Meta:
        ordering = ["user_id", "exam_type_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "user", "exam_type"], name="qa_credential_unique"
            ),
        ]

    def __str__(self):
        return f"{self.user} credentialed for {self.exam_type}"


class Outcome(TenantOwned):
    POSITIVE, NEGATIVE = "positive", "negative"

    exam = models.OneToOneField("exams.Exam", on_delete=models.CASCADE, related_name="outcome")
    source = models.CharField(
        max_length=200, help_text="The confirmatory study or course (e.g. CT abdomen)."
    )
    results = models.JSONField(
        default=dict, help_text='Worksheet field code → "positive" or "negative".'
    )
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    recorded_at = models.DateTimeField()

    def __str__(self):
        return f"Outcome of {self.exam}"
