from django.conf import settings
from django.db import models


class Claims(models.Model):
    """What the provider says about one of its users, beyond their id (any JSON)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    data = models.JSONField(default=dict)

    def __str__(self):
        return f"claims of {self.user}"
