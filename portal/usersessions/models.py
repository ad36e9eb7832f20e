from django.conf import settings
from django.db import models

from portal.usersessions.useragent import describe_user_agent


class UserSession(models.Model):
    """One signed-in browser session of a user, as listed on "Your sessions".

    Keyed by the SHA-256 of the session key, never the key itself: this table is shown
    to people and read by admins, and a session key is a bearer credential. Created at
    login, its activity updated at most once a minute, deleted at logout.
    """

    key_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_sessions"
    )
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField("last address", null=True, blank=True)
    created_at = models.DateTimeField("started")
    last_active_at = models.DateTimeField("last active")

    class Meta:
        ordering = ["-last_active_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-last_active_at"], name="usersessions_user_recent")
        ]

    def __str__(self):
        return f"{self.user} on {self.device}"

    @property
    def device(self):
        return describe_user_agent(self.user_agent)
