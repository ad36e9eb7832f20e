from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WorksheetsConfig(AppConfig):
    name = "portal.worksheets"
    label = "worksheets"
    verbose_name = "Exam types and worksheets"

    def ready(self):
        from portal.tenants import navigation
        from portal.worksheets import signals

        # Institutions made before exam types existed get the defaults at the next
        # migrate; one with any exam type of its own is left as its admins made it.
        post_migrate.connect(signals.install_where_missing, sender=self)

        # The administrators' exam types page, in the main navigation.
        navigation.register(
            navigation.NavPage(
                key="exam-types",
                label="Exam types",
                url_name="exam-type-list",
                also_current=("exam-type-edit", "exam-type-version", "exam-type-copy"),
            )
        )
