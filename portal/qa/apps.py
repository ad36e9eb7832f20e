from django.apps import AppConfig


class QaConfig(AppConfig):
    name = "portal.qa"
    label = "qa"
    verbose_name = "Quality review and credentialing"

    def ready(self):
        from portal.qa import notify
        from portal.work import schedules

        schedules.register(
            "qa: overdue digest", notify.send_overdue_digests, notify.OVERDUE_MINUTES
        )
