from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WorkConfig(AppConfig):
    name = "portal.work"
    label = "work"
    verbose_name = "Durable work"

    def ready(self):
        from portal.work import schedules, sweeper

        schedules.register("work: sweep due work", sweeper.sweep, 1)
        # Every app's ready() has run by the time migrate sends this.
        post_migrate.connect(schedules.ensure_schedules, sender=self)
