from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "portal.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"

    def ready(self):
        # Registers the SQLite median aggregate on every new connection.
        from portal.dashboard import median  # noqa: F401
