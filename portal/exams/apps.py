from django.apps import AppConfig


class ExamsConfig(AppConfig):
    name = "portal.exams"
    label = "exams"
    verbose_name = "Exams"
