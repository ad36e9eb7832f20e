from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal.accounts.throttle import login_username
from portal.tenants.middleware import memberships_of
from portal.usersessions import audit, services
from portal.usersessions.models import UserSession
from portal.usersessions.policy import idle_seconds_for, key_hash


@receiver(user_logged_in, dispatch_uid="usersessions-login")
def session_started(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    services.start(request, user)
    # Sessions closed without signing out are tidied up here, once per sign-in.
    services.prune(user, idle_seconds_for(memberships_of(user)))
    # A sign-in through the identity provider says so (portal.sso); a password one does not.
    method = getattr(request, "portal_sign_in_method", None)
    audit.record(request, user, audit.LOGIN, **({"method": method} if method else {}))


@receiver(user_logged_out, dispatch_uid="usersessions-logout")
def session_ended(sender, request, user, **kwargs):
    if request is None or user is None or not hasattr(request, "session"):
        return
    key = request.session.session_key
    if key:
        UserSession.objects.filter(key_hash=key_hash(key)).delete()
    reason = getattr(request, "portal_sign_out_reason", audit.LOGOUT)
    if reason != audit.END_SESSION:  # already recorded when it was ended
        audit.record(request, user, reason)


@receiver(user_login_failed, dispatch_uid="usersessions-login-failed")
def sign_in_failed(sender, credentials, request=None, **kwargs):
    """A failed sign-in with a member's address goes in their institutions' logs, with
    the address as typed (normalised and bounded) and never the password. An address of
    no account names no institution: axes still counts it, the log line records it."""
    if request is None:
        return
    typed = login_username(request, credentials)
    if not typed:
        return
    user = get_user_model()._default_manager.filter(email__iexact=typed).first()
    if user is None:
        audit.logger.info("session %s: unknown address", audit.LOGIN_FAILED)
        return
    audit.record(request, user, audit.LOGIN_FAILED, username=typed)
