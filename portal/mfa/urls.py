from django.urls import path

from portal.mfa import views

# Under /account/security/ (portal/urls.py).
urlpatterns = [
    path("", views.security, name="mfa-security"),
    path("app/", views.add_app, name="mfa-add-app"),
    path("passkey/", views.add_passkey, name="mfa-add-passkey"),
    path("passkey/options/", views.passkey_register_options, name="mfa-passkey-options"),
    path("passkey/register/", views.passkey_register, name="mfa-passkey-register"),
    path("recovery-codes/", views.recovery_codes, name="mfa-recovery-codes"),
    path("<slug:kind>/<int:pk>/remove/", views.remove, name="mfa-remove"),
]

# Under /accounts/login/verify/: the sign-in's second step.
verify_urlpatterns = [
    path("", views.verify, name="mfa-verify"),
    path("passkey/options/", views.verify_passkey_options, name="mfa-verify-passkey-options"),
    path("passkey/", views.verify_passkey, name="mfa-verify-passkey"),
]
