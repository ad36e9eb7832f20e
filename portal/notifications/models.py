"""The inbox, each member's choices, the queued emails and the digest's waiting entries."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.notifications import kinds
from portal.tenants.scoping import TenantOwned
from portal.work.models import Work


class Notification(TenantOwned):
    """One thing a member of one institution is told, shown in their inbox.

    ``title`` and ``body`` never hold patient data: the exam is reached by ``url``, and
    the exam page applies its own access rule when it is opened.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=kinds.CHOICES)
    exam = models.ForeignKey(
        "exams.Exam", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True, help_text="A path in the portal.")
    # Alerts repeated by a daily check carry the same key: one a day at most.
    key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["recipient", "institution", "-created_at", "-id"],
                name="notifications_inbox",
            ),
            models.Index(
                fields=["recipient", "institution", "read_at"], name="notifications_unread"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.recipient}"

    @property
    def is_read(self):
        return self.read_at is not None


class NotificationPreference(models.Model):
    """What a member wants by email, in one institution. In-portal notifications are
    always on, but for new exams, where ``none`` means neither."""

    class Frequency(models.TextChoices):
        EACH = "each", "For each new exam"
        DAILY = "daily", "A daily digest"
        NONE = "none", "Never"

    membership = models.OneToOneField(
        "tenants.Membership", on_delete=models.CASCADE, related_name="notification_preference"
    )
    new_exam = models.CharField(
        "new exams to review",
        max_length=10,
        choices=Frequency.choices,
        default=Frequency.DAILY,
    )
    feedback_signed = models.BooleanField("email when feedback on my exam is signed", default=True)
    exams_unlinked = models.BooleanField(
        "email when exams wait for a member's Clarius link", default=True
    )
    ingestion_failing = models.BooleanField(
        "email when exams have failed to arrive for a day", default=True
    )
    qa_feedback = models.BooleanField("email when my exam's QA review is scored", default=True)
    qa_assigned = models.BooleanField("email when a QA review is assigned to me", default=True)
    qa_overdue = models.BooleanField("email a daily list of overdue QA reviews", default=True)
    destination_failing = models.BooleanField(
        "email when a PACS or EHR destination has failed for a day", default=True
    )
    digest_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Notification choices of {self.membership}"

    def wants_email(self, kind: str) -> bool:
        preference = kinds.PREFERENCE_OF[kind]
        if preference == kinds.NEW_EXAM:
            wanted = self.Frequency.DAILY if kind == kinds.NEW_EXAM_DIGEST else self.Frequency.EACH
            return self.new_exam == wanted
        return bool(getattr(self, preference))

    def turn_off(self, preference: str) -> None:
        if preference == kinds.NEW_EXAM:
            self.new_exam = self.Frequency.NONE
        else:
            setattr(self, preference, False)

    def is_off(self, preference: str) -> bool:
        if preference == kinds.NEW_EXAM:
            return self.new_exam == self.Frequency.NONE
        return not getattr(self, preference)


class Email(TenantOwned, Work):
    """One email to send, rendered when it was decided: durable work (``portal.work``).

    Sent by the worker after the commit; a mail server that is down is retried with the
    one policy, and an email that still cannot be sent ends *failed* (admin › Emails).
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed to send"

    notification = models.ForeignKey(
        Notification, on_delete=models.SET_NULL, null=True, blank=True, related_name="emails"
    )
    kind = models.CharField(max_length=30, choices=kinds.CHOICES)
    to = models.EmailField()
    subject = models.CharField(max_length=250)
    body = models.TextField()
    unsubscribe_url = models.CharField(max_length=500)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="notifications_email_due")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.to} ({self.get_state_display()})"


class DigestEntry(TenantOwned):
    """A new exam waiting for a member's daily digest (deleted when the digest is made)."""

    membership = models.ForeignKey("tenants.Membership", on_delete=models.CASCADE, related_name="+")
    exam = models.ForeignKey("exams.Exam", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["membership", "exam"], name="notifications_digest_once")
        ]
