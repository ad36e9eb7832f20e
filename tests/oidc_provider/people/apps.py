from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "tests.oidc_provider.people"
    label = "people"
    default_auto_field = "django.db.models.BigAutoField"
