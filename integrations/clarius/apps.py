from django.apps import AppConfig


class ClariusConfig(AppConfig):
    name = "integrations.clarius"
    label = "clarius"
    verbose_name = "Clarius Cloud"
