from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class ClariusConfig(AppConfig):
    name = "integrations.clarius"
    label = "clarius"
    verbose_name = "Clarius Cloud"

    def ready(self):
        from integrations.clarius.schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)

        from integrations.clarius.ingestion.webhooks import forget_active_secret
        from integrations.clarius.models import NotificationEndpoint

        # A new or retired secret takes effect at once in this process (others: SECRET_TTL).
        for signal in (post_save, post_delete):
            signal.connect(
                lambda **kwargs: forget_active_secret(),
                sender=NotificationEndpoint,
                weak=False,
                dispatch_uid=f"clarius-forget-secret-{signal is post_save}",
            )
