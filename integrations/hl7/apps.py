from django.apps import AppConfig


class Hl7Config(AppConfig):
    name = "integrations.hl7"
    label = "hl7"
    verbose_name = "EHR results by HL7 v2 (MLLP)"

    def ready(self):
        pass
