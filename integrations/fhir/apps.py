from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "integrations.fhir"
    label = "fhir"
    verbose_name = "EHR results by FHIR R4"

    def ready(self):
        pass
