from django.apps import AppConfig


class OffboardingConfig(AppConfig):
    name = "portal.offboarding"
    label = "offboarding"
    verbose_name = "Offboarding"
