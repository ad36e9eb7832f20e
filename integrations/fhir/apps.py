from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "integrations.fhir"
    label = "fhir"
    verbose_name = "EHR results by FHIR R4"

    def ready(self):
        from integrations.fhir import destination
        from portal.outbound import kinds

        # Each report version POSTed as a transaction Bundle (integrations/fhir/destination.py).
        kinds.register(destination.KIND)
