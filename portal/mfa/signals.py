"""Every sign-in made by a page of the portal other than the password form (Django
admin's login, joining by invitation) is held to the same rules: its session gets the
password sign-in's mark, so ``MFAMiddleware`` asks for the second factor the account
has, or sends it to add one the policy requires, before anything else.

A sign-in outside a request's view (``Client.force_login`` in tests) has no resolved
URL and is left alone; single sign-on is verified by the identity provider.
"""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from portal.mfa import services


@receiver(user_logged_in, dispatch_uid="mfa-mark-password-sign-in")
def mark_sign_in(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    if getattr(request, "resolver_match", None) is None or services.is_sso_session(request):
        return
    if request.session.get(services.SSO_FLAG):
        return
    request.session[services.PASSWORD_LOGIN] = True
