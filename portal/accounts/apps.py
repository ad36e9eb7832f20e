from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from portal.accounts import password_reset
        from portal.accounts.models import PasswordResetRequest
        from portal.work import registry

        registry.register(
            PasswordResetRequest,
            password_reset.send_reset_link,
            state=PasswordResetRequest.State.QUEUED,
        )
