from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "portal.metrics"
    label = "metrics"
    verbose_name = "Metrics and logs"

    def ready(self):
        from portal.exams.models import Capture
        from portal.metrics import logs, registry
        from portal.reports.models import Report

        # Stored files the core keeps; integrations register theirs in their own ready().
        # A duplicate capture shares its original's file, so it is not counted again.
        # A capture whose media the retention policy removed holds no file any more.
        registry.register_stored_files(
            Capture, "captures", duplicate_of__isnull=True, media_purged_at__isnull=True
        )
        registry.register_stored_files(Report, "reports")
        logs.connect_task_signals()
