from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ClariusConfig(AppConfig):
    name = "integrations.clarius"
    label = "clarius"
    verbose_name = "Clarius Cloud"

    def ready(self):
        from integrations.clarius.schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
