from django.apps import AppConfig


class UserSessionsConfig(AppConfig):
    name = "portal.usersessions"
    label = "usersessions"
    verbose_name = "Sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from portal.usersessions import signals  # noqa: F401 - connects the receivers
