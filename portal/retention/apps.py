from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "portal.retention"
    label = "retention"
    verbose_name = "Media retention"

    def ready(self):
        from portal.retention import purge
        from portal.retention.models import MediaPurge
        from portal.work import registry, schedules

        # Each exam's purge is durable work: a worker killed mid-purge leaves a row whose
        # claim runs out, and the sweeper hands it out again.
        registry.register(MediaPurge, purge.purge_exam, state=MediaPurge.State.PENDING)
        # Once a day: the exams whose media became due are found and their purges queued.
        schedules.register("retention: purge due media", purge.plan_purges, purge.PLAN_MINUTES)
