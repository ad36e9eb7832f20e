"""Asking the provider again once the sign-in is ``PORTAL_OIDC_RENEW_SECONDS`` old.

mozilla-django-oidc's ``SessionRefresh``: a page load after that time goes to the
provider with ``prompt=none``; while the provider's session holds the person comes
straight back (a new expiry, no new sign-in), otherwise they sign in there again
(``portal.sso.views.CallbackView``). Only sessions begun at the provider, and only page
loads: a script's background request is answered as usual and the next page load renews.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.utils.deprecation import MiddlewareMixin
from mozilla_django_oidc.middleware import SessionRefresh

from portal.sso import conf, provider
from portal.sso.views import signed_in_through_provider


class SsoSessionRefresh(SessionRefresh):
    get_settings = staticmethod(provider.get_setting)

    def __init__(self, get_response):
        # Nothing read from the provider at start-up: the endpoint is looked up when needed.
        MiddlewareMixin.__init__(self, get_response)

    def process_request(self, request):
        if not conf.enabled() or not signed_in_through_provider(request):
            return None
        if request.headers.get("Sec-Fetch-Mode", "navigate") != "navigate":
            return None
        if not self.is_refreshable_url(request):
            return None
        # The parent's settings, read per request (tests and settings changes see them).
        self.OIDC_EXEMPT_URLS = settings.OIDC_EXEMPT_URLS
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_STATE_SIZE = self.get_settings("OIDC_STATE_SIZE", 32)
        self.OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
        self.OIDC_RP_SCOPES = settings.OIDC_RP_SCOPES
        self.OIDC_USE_NONCE = self.get_settings("OIDC_USE_NONCE", True)
        self.OIDC_NONCE_SIZE = self.get_settings("OIDC_NONCE_SIZE", 32)
        try:
            self.OIDC_OP_AUTHORIZATION_ENDPOINT = self.get_settings(
                "OIDC_OP_AUTHORIZATION_ENDPOINT"
            )
        except provider.ProviderUnavailable as e:
            import time

            if request.session.get("oidc_id_token_expiration", 0) > time.time():
                return None
            # The sign-in cannot be confirmed: it ends here, as it would at the provider.
            logout(request)
            messages.error(request, f"{e} Your sign-in has ended; sign in again.")
            return redirect("login")
        return super().process_request(request)

    @property
    def exempt_urls(self):
        from django.urls import reverse

        names = [
            *settings.OIDC_EXEMPT_URLS,
            "oidc_authentication_init",
            "oidc_authentication_callback",
            "oidc_logout",
        ]
        return {name if name.startswith("/") else reverse(name) for name in names}

    @property
    def exempt_url_patterns(self):
        return set()
