from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from portal.accounts.addresses import normalise_email
from portal.text import clean_text, has_unstorable
from portal.work.models import Work


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email):
        return normalise_email(email or "")

    def get_by_natural_key(self, email):
        # People type their address with whatever capitals they like: it is normalised
        # and matched exactly, never with the database's own case-insensitive rules.
        email = normalise_email(email)
        if has_unstorable(email):  # PostgreSQL would refuse the query: there is no such account
            raise self.model.DoesNotExist
        return self.get(email=email)

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=normalise_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address and a password."""

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    credentials = models.CharField(
        max_length=100,
        blank=True,
        help_text="Shown after the name on signed reports, e.g. “MD, RDMS”.",
    )
    is_staff = models.BooleanField(
        default=False, help_text="Can log into the Django admin (superusers manage tenants)."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = normalise_email(self.email)

    def save(self, *args, **kwargs):
        # Whatever path made or changed the account (admin, shell, a command), it keeps
        # the one spelling that login, lookups and the throttle compare against.
        self.email = normalise_email(self.email)
        # A name typed by the person (the invitation form) is shown to others on
        # member pages and in the audit log: no control or bidi characters in it.
        self.full_name = clean_text(self.full_name, max_length=150).strip()
        super().save(*args, **kwargs)

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email


class PasswordResetRequest(Work):
    """One request for a password reset link: the rate limit's count and the operator's log.

    Recorded for every valid request whether or not the address has an account, so the
    answer and the work done in the request are the same for both; the worker looks the
    account up and records what it did. A *queued* request is durable work
    (``portal.work``): a lost queue message or a mail server that is down delays the
    email, with retries, and a request that still cannot be sent ends *failed*.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        NO_ACCOUNT = "no_account", "No active account: nothing sent"
        LIMITED_ADDRESS = "limited_address", "Refused: too many for this address"
        LIMITED_CLIENT = "limited_client", "Refused: too many from this client"
        FAILED = "failed", "Failed to send"

    REFUSED = (State.LIMITED_ADDRESS, State.LIMITED_CLIENT)

    email = models.EmailField(help_text="As typed, normalised; it may have no account.")
    client_ip = models.CharField("client address", max_length=64, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["email", "created_at"], name="accounts_reset_email"),
            models.Index(fields=["client_ip", "created_at"], name="accounts_reset_client"),
            models.Index(fields=["created_at"], name="accounts_reset_created"),
        ]

    def __str__(self):
        return f"Password reset for {self.email} ({self.get_state_display()})"
