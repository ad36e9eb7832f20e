from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "portal.reports"
    label = "reports"
    verbose_name = "Findings and reports"

    def ready(self):
        from portal.reports import tasks
        from portal.reports.models import Report
        from portal.work import registry

        registry.register(Report, tasks.push_report, state__in=Report.UNDER_WAY)
