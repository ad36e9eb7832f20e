"""Exams as they arrive from Clarius, in their institution's private space."""

import uuid

from django.conf import settings
from django.db import models, router
from django.utils import timezone

from portal.exams import audit_chain
from portal.tenants.scoping import TenantOwned, TenantQuerySet
from portal.text import clean_text
from portal.work.models import Work


class Exam(TenantOwned):
    """One Clarius exam in one institution; resubmissions add submissions to it."""

    class Status(models.TextChoices):
        RECEIVING = "receiving", "Receiving media"
        READY = "ready", "Ready"
        INCOMPLETE = "incomplete", "Incomplete (media failed)"

    class ReviewState(models.TextChoices):
        NEW = "new", "New"
        IN_REVIEW = "in_review", "In review"
        # Signed by a trainee; an attending's attestation makes it final.
        PRELIMINARY = "preliminary", "Awaiting attestation"
        SIGNED = "signed", "Signed"
        REPORTED = "reported", "Reported to Clarius"

    exam_uuid = models.UUIDField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVING)
    review_state = models.CharField(
        max_length=20, choices=ReviewState.choices, default=ReviewState.NEW
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_exams",
        help_text="The staff member the exam is assigned to for review.",
    )
    signed_at = models.DateTimeField(null=True, blank=True, help_text="First signature.")
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="operated_exams",
        help_text="The clinician whose linked Clarius account uploaded the exam.",
    )
    exam_type = models.ForeignKey(
        "worksheets.ExamType",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exams",
        help_text="Proposed from the Clarius application until a reviewer confirms it.",
    )
    exam_type_confirmed = models.BooleanField(
        default=False, help_text="Whether a reviewer chose or kept the exam type."
    )
    clarius_application = models.CharField(
        max_length=200, blank=True, help_text="The application (preset) Clarius sent, if any."
    )
    new_images_since_signing = models.BooleanField(
        default=False,
        help_text="Captures arrived after the findings were signed and no addendum has "
        "referred to them yet.",
    )
    first_submitted_at = models.DateTimeField()
    last_submitted_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Sort keys the worklist orders by, stored so that each order is an index range
    # (institution, key, id) whatever the size of the institution.
    # The review workflow's order (new first), computed by the database from review_state.
    state_rank = models.GeneratedField(
        expression=models.Case(
            *[models.When(review_state=state, then=rank) for rank, state in enumerate(ReviewState)],
            default=len(ReviewState),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    # The patient's "last first animal" name in lower case ("" without a patient). Kept by
    # database triggers on the patient and exam tables (migration 0013), never by Python:
    # a save of a stale exam instance cannot undo it.
    patient_sort = models.CharField(max_length=610, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-last_submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "exam_uuid"], name="exams_exam_unique_per_institution"
            ),
        ]
        indexes = [
            models.Index(
                fields=["institution", "-last_submitted_at", "-id"], name="exams_exam_inst_recent"
            ),
            models.Index(fields=["institution", "status"], name="exams_exam_inst_status"),
            models.Index(
                fields=["institution", "review_state", "-last_submitted_at", "-id"],
                name="exams_exam_inst_review",
            ),
            models.Index(
                fields=["institution", "reviewer", "-last_submitted_at", "-id"],
                name="exams_exam_inst_reviewer",
            ),
            models.Index(
                fields=["institution", "operator", "-last_submitted_at", "-id"],
                name="exams_exam_inst_operator",
            ),
            models.Index(
                fields=["institution", "exam_type", "-last_submitted_at", "-id"],
                name="exams_exam_inst_type",
            ),
            # The worklist's orders (portal.dashboard.queries.SORTS): each read forwards
            # or backwards; "-state" keeps newest first within a state, so it has its own.
            models.Index(
                fields=["institution", "patient_sort", "id"], name="exams_exam_inst_patient"
            ),
            models.Index(
                fields=["institution", "state_rank", "-last_submitted_at", "-id"],
                name="exams_exam_inst_state_up",
            ),
            models.Index(
                fields=["institution", "-state_rank", "-last_submitted_at", "-id"],
                name="exams_exam_inst_state_down",
            ),
            # The dashboard's turnaround: signatures of the last 30 days, read from the
            # index alone on PostgreSQL (the submission time is carried in it), so an
            # institution's month of signatures costs index pages, not a heap page each.
            models.Index(
                fields=["institution", "signed_at"],
                include=["first_submitted_at"],
                name="exams_exam_inst_signed_cov",
            ),
        ]

    def __str__(self):
        return f"Exam {self.exam_uuid}"


class ExamTally(models.Model):
    """How many exams an institution holds per operator, reviewer, review state and status.

    Maintained by database triggers on ``exams_exam`` (migration 0013) in the same
    transaction as every insert, update and delete, however made (the ORM, ``update()``,
    a cascade, raw SQL), so the dashboard's cards and the worklist's totals read a few
    dozen rows instead of counting an institution's exams. ``0`` stands for no operator
    or no reviewer. Plain ids rather than foreign keys: a row outlives nothing it names,
    it only reaches zero. Never written by Python.
    """

    institution_id = models.BigIntegerField()
    operator_id = models.BigIntegerField()
    reviewer_id = models.BigIntegerField()
    review_state = models.CharField(max_length=20)
    status = models.CharField(max_length=20)
    n = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["institution_id", "operator_id", "reviewer_id", "review_state", "status"],
                name="exams_examtally_key",
            )
        ]

    def __str__(self):
        return f"{self.n} exams {self.review_state}/{self.status} in {self.institution_id}"


class ExamHour(models.Model):
    """Exams first submitted per institution and hour (UTC), for the dashboard's chart.

    Kept like ``ExamTally`` by triggers. ``operator_id`` 0 is the whole institution; an
    exam with an operator also counts in its operator's row (a clinician's own figures).
    Hours, not days: a day in the portal's time zone is 24 of them (whole-hour offsets).
    """

    institution_id = models.BigIntegerField()
    operator_id = models.BigIntegerField()
    hour = models.DateTimeField()
    n = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["institution_id", "operator_id", "hour"], name="exams_examhour_key"
            )
        ]

    def __str__(self):
        return f"{self.n} exams at {self.hour:%Y-%m-%d %H}h in {self.institution_id}"


# What the free-text gender Clarius sends means, for the systems that need a code (the
# PACS, the EHR by HL7 and by FHIR): one rule, so they all file the patient alike.
MALE_WORDS = frozenset({"m", "male", "man", "boy"})
FEMALE_WORDS = frozenset({"f", "female", "woman", "girl"})
UNKNOWN_WORDS = frozenset({"u", "unknown", "not specified", "unspecified"})


def sex_of(gender) -> str:
    """``male``, ``female``, ``other``, ``unknown`` or ``""`` (nothing was sent) from the
    words Clarius and people use; any other word is ``other``."""
    word = " ".join(str(gender or "").lower().split())
    if not word:
        return ""
    if word in UNKNOWN_WORDS:
        return "unknown"
    if word in MALE_WORDS:
        return "male"
    if word in FEMALE_WORDS:
        return "female"
    return "other"


class Patient(TenantOwned):
    """The patient of an exam as Clarius last sent it; every field may be missing."""

    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, related_name="patient")
    identifier = models.CharField(max_length=200, blank=True)
    first_name = models.CharField(max_length=200, blank=True)
    middle_name = models.CharField(max_length=200, blank=True)
    last_name = models.CharField(max_length=200, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    date_of_birth_text = models.CharField(
        max_length=50, blank=True, help_text="As sent, when it is not a plain date."
    )
    gender = models.CharField(max_length=50, blank=True)
    animal_name = models.CharField(max_length=200, blank=True)
    animal_type = models.CharField(max_length=200, blank=True)
    owner_name = models.CharField(max_length=200, blank=True)
    extra = models.JSONField(
        default=dict, blank=True, help_text="Fields Clarius sent that we do not know."
    )

    def __str__(self):
        # Shown by the admin and in logs: without the control or bidi characters of outside text.
        return clean_text(self.display_name or self.identifier) or "Unnamed patient"

    @property
    def is_animal(self):
        return bool(self.animal_name or self.animal_type or self.owner_name)

    @property
    def display_name(self):
        if self.is_animal:
            return self.animal_name
        return " ".join(p for p in [self.first_name, self.middle_name, self.last_name] if p)


class Submission(TenantOwned):
    """One upload of an exam to Clarius (a ``request_uuid``)."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="submissions")
    request_uuid = models.UUIDField(unique=True)
    submitted_at = models.DateTimeField()
    download_url = models.TextField(help_text="Where Clarius serves this submission's data.")
    raw_document = models.JSONField(
        default=dict,
        blank=True,
        help_text="The exam data as Clarius last sent it, whole: the patient's unknown fields "
        "are capped on the exam, never here (only NUL and lone surrogates, which the "
        "database cannot hold, are removed).",
    )
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]

    def __str__(self):
        return f"Submission {self.request_uuid}"


class Capture(TenantOwned, Work):
    """One image or clip of a submission, downloaded into the portal's storage."""

    # The stored files (portal.storage) a row names, each with the field holding its
    # SHA-256 ("" when none is kept): what ``manage.py migrate_media`` copies.
    stored_files = {"file": "sha256", "thumbnail": ""}

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for download"
        DONE = "done", "Downloaded"
        FAILED = "failed", "Failed"

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="captures")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="captures")
    position = models.PositiveIntegerField(help_text="Order within the submission.")
    source_url = models.TextField(help_text="Short-lived link from Clarius.")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    file = models.CharField(max_length=300, blank=True, help_text="Path under PORTAL_MEDIA_ROOT.")
    thumbnail = models.CharField(max_length=300, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    frame_rate = models.FloatField(
        null=True, blank=True, help_text="A clip's frames per second, for frame-by-frame review."
    )
    downloaded_at = models.DateTimeField(null=True, blank=True)
    # Set when the institution's retention policy removed the capture's media (its
    # thumbnail, the worksheet and the report are kept): the file fields then name nothing.
    media_purged_at = models.DateTimeField(null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The earlier capture of the exam with the same content: a resubmission "
        "sent it again. Not shown or stored twice.",
    )
    after_signing = models.BooleanField(
        default=False, help_text="Arrived after the exam's findings were signed."
    )

    class Meta:
        ordering = ["submission_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "position"], name="exams_capture_unique_position"
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="exams_capture_due")]

    def __str__(self):
        return f"Capture {self.position + 1} of {self.submission.request_uuid}"

    @property
    def is_video(self):
        return self.content_type.startswith("video/")

    @property
    def is_image(self):
        return self.content_type.startswith("image/")


class AuditEventQuerySet(TenantQuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        # Each event is chained to the one before it (portal.exams.audit_chain), which a
        # bulk insert would skip: events are written one by one, through save().
        raise audit_chain.AuditLogIsAppendOnly("audit events are written one at a time")


class AuditEvent(TenantOwned):
    """Who looked at or changed patient data, when, from where.

    Append-only and tamper-evident: each event is written once, numbered and hashed into
    its institution's chain (``portal.exams.audit_chain``), and never changed or deleted
    through the portal.
    """

    class Action(models.TextChoices):
        VIEW_EXAM = "view_exam", "Viewed an exam"
        OPEN_MEDIA = "open_media", "Opened a capture"
        DOWNLOAD_REPORT = "download_report", "Downloaded a report"
        LIST_EXAMS = "list_exams", "Listed exams"
        RESEARCH_RAW_DATA = "research_raw_data", "Viewed research raw data"
        RAW_DATA_DOWNLOAD = "raw_data_download", "Downloaded research raw data"
        DICOM_EXPORT = "dicom_export", "Requested a DICOM export"
        DICOM_DOWNLOAD = "dicom_download", "Downloaded a DICOM export"
        # The institution admin's own actions, kept in the same log.
        INVITE_MEMBER = "invite_member", "Invited a member"
        CANCEL_INVITATION = "cancel_invitation", "Cancelled an invitation"
        ACCEPT_INVITATION = "accept_invitation", "Joined by invitation"
        CHANGE_ROLE = "change_role", "Changed a member's role"
        REMOVE_MEMBER = "remove_member", "Removed a member"
        EXPORT_AUDIT_LOG = "export_audit_log", "Exported the audit log"
        CREATE_API_KEY = "create_api_key", "Created an API key"
        REVOKE_API_KEY = "revoke_api_key", "Revoked an API key"
        EDIT_EXAM_TYPE = "edit_exam_type", "Changed an exam type"
        CHANGE_SETTINGS = "change_settings", "Changed the institution's settings"
        # The review of an exam, step by step (the web page and the API alike).
        ASSIGN_EXAM = "assign_exam", "Assigned an exam"
        SIGN_FINDINGS = "sign_findings", "Signed the findings"
        ATTEST_FINDINGS = "attest_findings", "Attested the findings"
        ADD_ADDENDUM = "add_addendum", "Added an addendum"
        # Sign-ins and sign-outs (portal.usersessions.audit), one event per institution of
        # the user; no password or session key is ever part of one.
        LOGIN = "login", "Signed in"
        LOGOUT = "logout", "Signed out"
        IDLE_LOGOUT = "idle_logout", "Signed out after being idle"
        SESSION_MAX_AGE = "session_max_age", "Signed out at the session's time limit"
        END_SESSION = "end_session", "Ended one of their sessions"
        SIGN_OUT_EVERYWHERE = "sign_out_everywhere", "Signed out everywhere"
        # A wrong password for a member's address (the address typed is kept, never the
        # password); an address of no account belongs to no institution's log.
        LOGIN_FAILED = "login_failed", "Failed to sign in"
        # The first request of the day with an API key (portal.api.authentication): each
        # request is already in the log where it opens patient data.
        API_KEY_USED = "api_key_used", "Used an API key (first time that day)"
        # The QA program and credentialing (portal.qa).
        FLAG_QA = "flag_qa", "Flagged an exam for QA"
        ASSIGN_QA = "assign_qa", "Assigned a QA review"
        SCORE_QA = "score_qa", "Scored a QA review"
        GRANT_CREDENTIAL = "grant_credential", "Granted a credential"
        REVOKE_CREDENTIAL = "revoke_credential", "Revoked a credential"
        EXPORT_CREDENTIALS = "export_credentials", "Exported the credentialing log"
        RECORD_OUTCOME = "record_outcome", "Recorded an exam's outcome"
        CHANGE_QA_SETTINGS = "change_qa_settings", "Changed the QA program's settings"
        # PACS and EHR destinations (portal.outbound): the admin's changes and resends.
        ADD_DESTINATION = "add_destination", "Added a PACS or EHR destination"
        CHANGE_DESTINATION = "change_destination", "Changed a PACS or EHR destination"
        REMOVE_DESTINATION = "remove_destination", "Removed a PACS or EHR destination"
        RESEND_DELIVERIES = "resend_deliveries", "Resent deliveries to a destination"
        # Second factors (portal.mfa), one event per institution of the member.
        MFA_ADDED = "mfa_added", "Added a second factor"
        MFA_REMOVED = "mfa_removed", "Removed a second factor"
        MFA_RECOVERY_CODES = "mfa_recovery_codes", "Made new recovery codes"
        MFA_RECOVERY_USED = "mfa_recovery_used", "Signed in with a recovery code"
        MFA_FAILED = "mfa_failed", "Gave a wrong second factor"
        MFA_VERIFIED = "mfa_verified", "Confirmed a second factor"
        # The patient-data lifecycle: retention (portal.retention), offboarding
        # (portal.offboarding).
        PURGE_MEDIA = "purge_media", "Removed media under the retention policy"
        EXPORT_INSTITUTION = "export_institution", "Exported the institution's whole record"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # PROTECT: the hash covers the user, so a user with events in the log is deactivated,
    # never deleted (SET_NULL would change the rows and break their institution's chain).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    action = models.CharField(max_length=40, choices=Action.choices)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # Always the time of writing: save() stamps it under the chain's lock, before hashing
    # (auto_now_add would stamp it again, after the hash, at the INSERT).
    at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    detail = models.JSONField(default=dict, blank=True)
    # The tamper-evident chain: an institution's events numbered in the order written,
    # each hash covering the event's fields and the hash of the event before it.
    seq = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["institution", "-at"], name="exams_audit_inst_recent")]
        constraints = [
            models.UniqueConstraint(fields=["institution", "seq"], name="exams_audit_chain_seq")
        ]

    objects = AuditEventQuerySet.as_manager()

    def __str__(self):
        return f"{self.user} {self.get_action_display()} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise audit_chain.AuditLogIsAppendOnly("an audit event cannot be changed")
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        audit_chain.insert_chained(
            self, AuditChainHead, lambda: super(AuditEvent, self).save(*args, **kwargs), using
        )

    save.alters_data = True

    def delete(self, *args, **kwargs):
        raise audit_chain.AuditLogIsAppendOnly("an audit event cannot be deleted")

    delete.alters_data = True


class AuditChainHead(TenantOwned):
    """The last number and hash of an institution's audit chain: the row each new event
    locks, and what ``verify_audit_chain`` checks the chain's end against."""

    # One head per institution, keyed by it (the tenant rule's field, made the key).
    institution = models.OneToOneField(
        "tenants.Institution",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
    )
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=audit_chain.GENESIS)

    def __str__(self):
        return f"audit chain of institution {self.institution_id} at {self.seq}"


# The triggers' post_migrate check (connected on import, as the models load).
from portal.exams import tallies  # noqa: E402, F401
