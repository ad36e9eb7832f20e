"""Institution API keys: how a program reaches the REST API on behalf of one member.

A key belongs to one institution and acts as one of its members, limited by that
member's current role exactly as the web pages are (a clinician's key sees only the
clinician's exams). Its ``scope`` limits it further: a ``read`` key may only read.

The key is shown once, when it is made: ``cpk_<prefix>_<secret>``. The database keeps
the prefix (to find the row) and an HMAC-SHA256 of the secret (see ``portal.api.keys``),
never the secret itself, so a copy of the database cannot be used to call the API.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.tenants.scoping import TenantOwned, TenantQuerySet

STATE_LABELS = {
    "active": "Active",
    "revoked": "Revoked",
    "expired": "Expired",
    "member_gone": "Member left",
}


class ApiKeyQuerySet(TenantQuerySet):
    def usable(self, now=None):
        """Keys not revoked and not expired (the member and user are checked on use)."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(TenantOwned):
    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    name = models.CharField(max_length=100, help_text="What the key is for, e.g. the EHR bridge.")
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    secret_hash = models.CharField(
        max_length=64, editable=False, help_text="HMAC-SHA256 of the secret; never the secret."
    )
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    # The member the key acts as. Removing the member leaves the key (and its history)
    # but it stops working: a member who joins again does not revive it.
    membership = models.ForeignKey(
        "tenants.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        help_text="The user the key acts as.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField("last address", null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["institution", "-created_at"], name="api_key_inst_recent")]

    def __str__(self):
        return f"{self.name} (cpk_{self.prefix}_…)"

    @property
    def shown_prefix(self) -> str:
        """How the key is named wherever it is shown: its public part only."""
        return f"cpk_{self.prefix}"

    def state(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.membership_id is None:
            return "member_gone"
        return "active"

    def state_label(self) -> str:
        return STATE_LABELS[self.state()]

    @property
    def is_write(self) -> bool:
        return self.scope == self.Scope.WRITE
