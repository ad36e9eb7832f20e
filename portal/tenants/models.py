from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import slugify

from portal.tenants.scoping import TenantOwned, TenantQuerySet

# Bounds of an institution's idle timeout, in minutes.
IDLE_TIMEOUT_DEFAULT = 30
IDLE_TIMEOUT_MIN = 5
IDLE_TIMEOUT_MAX = 720
DEFAULT_ATTESTATION = (
    "I was physically present for, or reviewed, the key portions of this examination, "
    "reviewed the images and the trainee's interpretation, and agree with the findings "
    "as documented."
)


def default_time_zone() -> str:
    """New institutions start in the installation's zone (``DJANGO_TIME_ZONE``)."""
    return settings.TIME_ZONE


def validate_time_zone(value: str) -> None:
    """An IANA zone name this machine knows (e.g. Europe/Paris)."""
    import zoneinfo

    from django.core.exceptions import ValidationError

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "%(value)s is not a time zone name (e.g. Europe/Paris).", params={"value": value[:64]}
        ) from None


class InstitutionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def of_user(self, user):
        """The active institutions ``user`` is a member of, by name."""
        if not user.is_authenticated:
            return self.none()
        return self.active().filter(memberships__user=user).order_by("name")


class Institution(models.Model):
    """A Clarius customer organisation; in the portal, a tenant."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    is_active = models.BooleanField(
        "active", default=True, help_text="Inactive institutions are hidden from their members."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Automatic logoff (HIPAA 164.312(a)(2)(iii)): members are signed out after this many
    # minutes without activity. A member of several institutions gets the smallest.
    idle_timeout_minutes = models.PositiveSmallIntegerField(
        "idle timeout (minutes)",
        default=IDLE_TIMEOUT_DEFAULT,
        validators=[
            MinValueValidator(IDLE_TIMEOUT_MIN),
            MaxValueValidator(IDLE_TIMEOUT_MAX),
        ],
        help_text=(
            f"Members are signed out after this many minutes without activity "
            f"({IDLE_TIMEOUT_MIN} to {IDLE_TIMEOUT_MAX}); they are warned a minute before."
        ),
    )

    time_zone = models.CharField(
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text="An IANA name (e.g. America/Toronto): pages, reports and exports show "
        "times in it.",
    )
    attestation_statement = models.TextField(
        default=DEFAULT_ATTESTATION,
        help_text="What an attending affirms when attesting a trainee's worksheet.",
    )
    hold_trainee_reports = models.BooleanField(
        "reports wait for attestation",
        default=True,
        help_text="A report of an exam signed by a trainee goes out only once an attending "
        "attests it (otherwise it goes out marked preliminary).",
    )
    email_patient_identifiers = models.BooleanField(
        "include patient identifiers in emails",
        default=False,
        help_text="Notification emails name the patient (name and ID). Off: they say only "
        "what happened and link to the exam.",
    )
    # Identity: sign-on through the installation's identity provider (portal/sso) and a
    # second factor for password sign-ins (portal/mfa).
    password_sign_in = models.BooleanField(
        "members may sign in with a password",
        default=True,
        help_text="Off: members sign in through the identity provider (single sign-on) only.",
    )
    require_second_factor = models.BooleanField(
        "require a second factor",
        default=False,
        help_text="Every member signing in with a password also confirms an authenticator "
        "app code or a passkey (administrators always do).",
    )
    # The patient-data lifecycle (portal/retention): capture media removed this many days
    # after the exam's report is signed, the thumbnail and report kept; empty: never.
    media_retention_days = models.PositiveIntegerField(
        "keep capture media for (days after signing)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(36500)],
        help_text="Images and clips are removed this many days after the exam's report is "
        "signed; thumbnails, worksheets and reports are kept. Empty: kept for ever.",
    )

    objects = InstitutionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="tenants_institution_name_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(idle_timeout_minutes__gte=IDLE_TIMEOUT_MIN)
                & models.Q(idle_timeout_minutes__lte=IDLE_TIMEOUT_MAX),
                name="tenants_institution_idle_timeout_range",
            ),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def unique_slug_for(cls, name):
        base = slugify(name)[:50] or "institution"
        slug, n = base, 2
        while cls.objects.filter(slug=slug).exists():
            slug, n = f"{base}-{n}", n + 1
        return slug


class Membership(TenantOwned):
    class Role(models.TextChoices):
        ADMIN = "admin", "Administrator"
        REVIEWER = "reviewer", "Reviewer"
        CLINICIAN = "clinician", "Clinician"

    # Declared again to give the reverse accessor a name (Institution.memberships).
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    is_trainee = models.BooleanField(
        "trainee",
        default=False,
        help_text="Residents, students, practitioners in training: what they sign is "
        "preliminary until an attending attests it.",
    )
    # The QA program (portal.qa): reviewers and administrators only, since QA reads
    # other people's exams. QA reviewers score exams; QA leads run the program (queue,
    # credentialing, calibration) and get its daily digest.
    is_qa_reviewer = models.BooleanField(
        "QA reviewer",
        default=False,
        help_text="Scores exams in the QA queue (round-robin assignment picks among these).",
    )
    is_qa_lead = models.BooleanField(
        "QA lead",
        default=False,
        help_text="Runs the QA program: assigns QA reviews, sees everyone's credentialing, "
        "calibration and accuracy, and gets the daily digest of overdue QA.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The member's last worklist filters and sort here (a query string the worklist made
    # from valid filters only): the Worklist link opens on them (portal.dashboard.worklist).
    worklist_query = models.CharField(max_length=2000, blank=True, editable=False)

    class Meta:
        ordering = ["institution__name", "user__email"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "user"], name="tenants_membership_unique_pair"
            ),
        ]
        indexes = [models.Index(fields=["user", "institution"])]

    def __str__(self):
        return f"{self.user} in {self.institution} ({self.get_role_display()})"


class InvitationQuerySet(TenantQuerySet):
    def open(self, now=None):
        """Invitations that can still be accepted."""
        return self.filter(
            accepted_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=now or timezone.now(),
        )


class Invitation(TenantOwned):
    """A one-time link, sent by email, to become a member of an institution.

    Only a hash of the token is kept: the link in the email is the only copy, so a
    leaked database cannot be used to join. Accepting it (once) makes a new person a
    user, or adds an existing user, with the invited role.
    """

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token.")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["institution", "email"], name="tenants_invitation_email")]

    def __str__(self):
        return f"Invitation of {self.email} to {self.institution} ({self.get_role_display()})"
