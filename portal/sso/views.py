"""Signing in through the provider (start, callback) and signing out of both.

Refusals come back to the login page with a message that says why; the provider's own
errors are never shown as they came (their text is the provider's, not ours).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.module_loading import import_string
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from portal.sso import conf, provider

logger = logging.getLogger("portal.sso")

BACKEND = "portal.sso.backends.SsoBackend"
# The provider's answers to a silent renewal (prompt=none) that mean "sign in again here".
_SIGN_IN_AGAIN = {
    "login_required",
    "interaction_required",
    "consent_required",
    "account_selection_required",
}


def signed_in_through_provider(request) -> bool:
    return request.session.get(BACKEND_SESSION_KEY) == BACKEND


class StartView(OIDCAuthenticationRequestView):
    """The "Sign in with …" button: off to the provider's sign-in page."""

    get_settings = staticmethod(provider.get_setting)

    def __init__(self, **kwargs):
        # The endpoints are looked up per request (get), not when the view is made.
        View.__init__(self, **kwargs)

    def get(self, request):
        if not conf.enabled():
            raise Http404("Single sign-on is not configured")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except provider.ProviderUnavailable as e:
            messages.error(request, f"{e} Sign in with your password, or try again later.")
            return redirect("login")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back, with a code or an error."""

    get_settings = staticmethod(provider.get_setting)

    def get(self, request):
        if not conf.enabled():
            raise Http404("Single sign-on is not configured")
        # A silent renewal (portal.sso.middleware) the provider answered "sign in again":
        # its sign-in page, then back to the page the person was on.
        self.sign_in_again = (
            request.GET.get("error") in _SIGN_IN_AGAIN and request.user.is_authenticated
        )
        self.next_url = request.session.get("oidc_login_next")
        return super().get(request)

    def login_failure(self):
        if getattr(self, "sign_in_again", False):
            messages.info(
                self.request, f"Your sign-in has expired: sign in with {conf.label()} again."
            )
            query = urlencode({"next": self.next_url}) if self.next_url else ""
            return HttpResponseRedirect(
                reverse("oidc_authentication_init") + (f"?{query}" if query else "")
            )
        refusal = getattr(self.request, "sso_refusal", None)
        if refusal is None and self.request.GET.get("error"):
            refusal = f"The sign-in with {conf.label()} did not complete."
        elif refusal is None and getattr(self, "user", None) is not None:
            refusal = "This account is disabled: ask an administrator of your institution."
        messages.error(self.request, refusal or "The sign-in did not complete; try again.")
        return redirect("login")


def provider_logout_url(request) -> str:
    """Where signing out sends the browser: the provider's end-session endpoint (which
    comes back to the login page), or the login page itself when it has none
    (mozilla-django-oidc's ``OIDC_OP_LOGOUT_URL_METHOD``)."""
    after = request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL))
    try:
        endpoint = provider.endpoints()["end_session_endpoint"]
    except provider.ProviderUnavailable:
        endpoint = ""
    if not endpoint:
        return after
    params = {"client_id": settings.OIDC_RP_CLIENT_ID, "post_logout_redirect_uri": after}
    id_token = request.session.get("oidc_id_token")
    if isinstance(id_token, str) and id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


class LogoutView(auth_views.LogoutView):
    """Django's sign-out; a session begun at the provider is ended there as well."""

    def post(self, request, *args, **kwargs):
        provider_url = None
        if conf.enabled() and request.user.is_authenticated and signed_in_through_provider(request):
            provider_url = import_string(settings.OIDC_OP_LOGOUT_URL_METHOD)(request)
        response = super().post(request, *args, **kwargs)
        if provider_url:
            return HttpResponseRedirect(provider_url)
        return response
