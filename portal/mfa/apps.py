from django.apps import AppConfig


class MfaConfig(AppConfig):
    name = "portal.mfa"
    label = "mfa"
    verbose_name = "Second factors"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from portal import encryption
        from portal.mfa import signals  # noqa: F401 - connects the receiver
        from portal.mfa.models import TOTPKey

        # Key rotation (manage.py reencrypt_secrets) re-encrypts the authenticator keys.
        encryption.register_column(TOTPKey, "key_encrypted")
