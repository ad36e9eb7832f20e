from django.apps import AppConfig


class ExamsConfig(AppConfig):
    name = "portal.exams"
    label = "exams"
    verbose_name = "Exams"

    def ready(self):
        from portal import storage
        from portal.work import schedules

        # Staged writes of workers that died (local .part files, S3 multipart uploads).
        schedules.register(
            "storage: sweep abandoned partial writes", storage.sweep_partials, storage.SWEEP_MINUTES
        )
