from django.apps import AppConfig


class QaConfig(AppConfig):
    name = "portal.qa"
    label = "qa"
    verbose_name = "Quality review and credentialing"
