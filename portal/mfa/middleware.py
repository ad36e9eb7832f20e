"""django-otp's ``OTPMiddleware``, plus two portal rules.

- A single sign-on session (``portal.sso``'s backend, or ``session["portal_sso"]``) is
  verified: the identity provider asked for its own factors.
- A session started by a sign-in page (``services.PASSWORD_LOGIN``: the password form,
  Django admin's login, joining by invitation; see ``signals``) that is not verified
  reaches only the Security pages, the second step, sign-out and the session endpoints
  when its user has a factor (sent to the second step) or must have one
  (``services.policy_requires``; sent to Security to add one). Sessions without the
  mark (``Client.force_login`` in tests, a session from before this rule) are left
  alone.
"""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django_otp.middleware import OTPMiddleware

from portal.mfa import services

# What a session held by the policy may still reach (URL names).
ALLOWED = {
    "mfa-security",
    "mfa-add-app",
    "mfa-add-passkey",
    "mfa-passkey-options",
    "mfa-passkey-register",
    "mfa-recovery-codes",
    "mfa-verify",
    "mfa-verify-passkey-options",
    "mfa-verify-passkey",
    "login",
    "logout",
    "session-status",
    "session-keep-alive",
    "session-expired",
    "csp-report",
    "favicon",
    "healthz",
    "readyz",
    "metrics",
}


def _always_verified():
    return True


class MFAMiddleware(OTPMiddleware):
    def _verify_user_sync(self, request, user):
        user = super()._verify_user_sync(request, user)
        if user.is_authenticated and user.otp_device is None and services.is_sso_session(request):
            user.is_verified = _always_verified
        return user

    def process_view(self, request, view_func, view_args, view_kwargs):
        session = getattr(request, "session", None)
        if session is None or not session.get(services.PASSWORD_LOGIN):
            return None
        user = request.user
        if not user.is_authenticated or user.is_verified() or services.is_sso_session(request):
            return None
        match = request.resolver_match
        if match is not None and match.url_name in ALLOWED:
            return None
        # A factor the account has is always asked for (a sign-in through Django admin's
        # login, or a factor added in another session since); none, only if required.
        if services.has_factor(user):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Confirm your second factor first."}, status=403)
            return redirect("mfa-verify")
        if not services.policy_requires(user, getattr(request, "memberships", None)):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": "Add a second factor on Security (/account/security/) first."},
                status=403,
            )
        if request.method == "GET":
            messages.warning(
                request,
                "Add a second factor to your account before you continue: an authenticator "
                "app or a passkey.",
            )
        return redirect("mfa-security")
