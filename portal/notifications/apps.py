from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "portal.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from portal import events
        from portal.notifications import daily, emails, producing
        from portal.notifications.models import Email
        from portal.work import registry, schedules

        # Feedback signed, new exams: rows written in the change's transaction.
        events.subscribe(producing.on_event)
        registry.register(Email, emails.send_email, state=Email.State.QUEUED)
        schedules.register("notifications: daily digest", daily.send_digests, daily.DIGEST_MINUTES)
        schedules.register("notifications: admin alerts", daily.check_alerts, daily.ALERT_MINUTES)
