from django.apps import AppConfig


class OffboardingConfig(AppConfig):
    name = "portal.offboarding"
    label = "offboarding"
    verbose_name = "Offboarding"

    def ready(self):
        from portal.offboarding import tasks
        from portal.offboarding.models import InstitutionExport
        from portal.work import registry

        registry.register(
            InstitutionExport, tasks.run_export, state=InstitutionExport.State.PENDING
        )
