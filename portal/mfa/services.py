"""Who must have a second factor, what factors a user has, and finishing a sign-in."""

import time

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.contrib.auth import login as auth_login
from django_otp import login as otp_login

from portal.mfa.models import AuthenticatorApp, Passkey, RecoveryCodes
from portal.tenants.middleware import memberships_of
from portal.tenants.models import Membership

# Set by the password sign-in: only these sessions are held to the policy.
PASSWORD_LOGIN = "portal_password_login"
# A password accepted, the second step still to come: {"user", "backend", "next", "at"}.
PENDING = "portal_mfa_pending"
PENDING_SECONDS = 600
# Set by the single sign-on sign-in (portal.sso): verified by the identity provider.
SSO_FLAG = "portal_sso"


def is_sso_session(request):
    session = getattr(request, "session", None)
    if session is None:
        return False
    backend = session.get(BACKEND_SESSION_KEY, "") or ""
    return bool(session.get(SSO_FLAG)) or backend.startswith(
        ("portal.sso.", "mozilla_django_oidc.")
    )


def apps_of(user):
    return AuthenticatorApp.objects.filter(user=user, confirmed=True).order_by("created_at", "pk")


def passkeys_of(user):
    return Passkey.objects.filter(user=user, confirmed=True).order_by("created_at", "pk")


def recovery_of(user):
    return RecoveryCodes.objects.filter(user=user, confirmed=True).first()


def has_factor(user):
    """An authenticator app or a passkey (recovery codes only stand in for them)."""
    return apps_of(user).exists() or passkeys_of(user).exists()


def policy_requires(user, memberships=None):
    """Must this user have a second factor when signing in with a password?"""
    if memberships is None:
        memberships = memberships_of(user)
    if settings.PORTAL_MFA_REQUIRED_FOR_ADMINS and (
        user.is_superuser or any(m.role == Membership.Role.ADMIN for m in memberships)
    ):
        return True
    return any(m.institution.require_second_factor for m in memberships)


def begin_pending(request, user, next_url):
    """Keep the account whose password was right, for the second step."""
    request.session.cycle_key()
    request.session[PENDING] = {
        "user": user.pk,
        "backend": user.backend,
        "next": next_url,
        "at": int(time.time()),
    }


def pending_user(request):
    """The account waiting for its second step in this session, or ``None``."""
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = get_user_model()._default_manager.filter(pk=pending.get("user"), is_active=True).first()
    if user is not None:
        user.backend = pending["backend"]
    return user


def subject(request):
    """Whose second factor the verify page asks for: the signed-in but unverified user
    (a session the policy stopped), else the pending account."""
    if request.user.is_authenticated:
        return request.user
    return pending_user(request)


def complete(request, user, device):
    """Sign in (if not yet) and mark the session verified by ``device``; where to go."""
    pending = request.session.pop(PENDING, None) or {}
    if not request.user.is_authenticated:
        auth_login(request, user, pending.get("backend"))
        request.session[PASSWORD_LOGIN] = True
    otp_login(request, device)
    return pending.get("next") or settings.LOGIN_REDIRECT_URL


def login_verified(request, device):
    """A factor just added in this session verifies it (it proved the factor works)."""
    otp_login(request, device)
