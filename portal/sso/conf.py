"""Single sign-on settings, read from the environment by ``portal/settings.py``.

Every variable is documented in README.md ("Configuration"). Nothing here imports models:
``settings_from_environment`` runs while the settings module is being read.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_str, parse_http_url

# The provider's endpoints, as named in its discovery document, and the variables that
# set them explicitly (a provider without discovery, or to override what it announces).
ENDPOINTS = {
    "authorization_endpoint": "PORTAL_OIDC_AUTHORIZATION_ENDPOINT",
    "token_endpoint": "PORTAL_OIDC_TOKEN_ENDPOINT",
    "userinfo_endpoint": "PORTAL_OIDC_USERINFO_ENDPOINT",
    "jwks_uri": "PORTAL_OIDC_JWKS_ENDPOINT",
    "end_session_endpoint": "PORTAL_OIDC_END_SESSION_ENDPOINT",
}
# A claim's name: what a provider may call it, nothing that could be a path or markup.
_CLAIM_NAME_LIMIT = 100


def _url(name: str, allow_http: bool) -> str:
    value = (env_str(name) or "").strip()
    if not value:
        return ""
    value = parse_http_url(name, value)
    if value.startswith("http://") and not allow_http:
        raise ImproperlyConfigured(
            f"{name}: the identity provider must be reached over https:// "
            "(PORTAL_OIDC_ALLOW_HTTP=1 allows http:// for development)"
        )
    return value


def _claim_name(name: str) -> str:
    value = (env_str(name) or "").strip()
    if len(value) > _CLAIM_NAME_LIMIT or any(ord(c) < 32 for c in value):
        raise ImproperlyConfigured(
            f"{name}: a claim name of at most {_CLAIM_NAME_LIMIT} characters"
        )
    return value


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def settings_from_environment(debug: bool) -> dict:
    """The ``OIDC_*`` settings mozilla-django-oidc reads and the portal's ``PORTAL_OIDC_*``."""
    allow_http = env_bool("PORTAL_OIDC_ALLOW_HTTP", debug)
    issuer = _url("PORTAL_OIDC_ISSUER", allow_http).rstrip("/")
    endpoints = {key: _url(name, allow_http) for key, name in ENDPOINTS.items()}
    client_id = (env_str("PORTAL_OIDC_CLIENT_ID") or "").strip()
    scopes = " ".join((env_str("PORTAL_OIDC_SCOPES") or "openid email profile").split())
    if "openid" not in scopes.split():
        raise ImproperlyConfigured("PORTAL_OIDC_SCOPES: must include openid")
    configured = bool(client_id and (issuer or endpoints["authorization_endpoint"]))
    if configured and not issuer:
        missing = [
            name
            for key, name in ENDPOINTS.items()
            if key != "end_session_endpoint" and not endpoints[key]
        ]
        if missing:
            raise ImproperlyConfigured(
                "PORTAL_OIDC_ISSUER: set it (the provider's endpoints are then discovered), "
                "or set every endpoint: " + ", ".join(missing) + " missing"
            )
    # Signing out ends at the provider: the sign-out form's redirect goes to its origin.
    origins = sorted(
        {_origin(url) for url in [issuer, *endpoints.values()] if url} if configured else set()
    )
    label = " ".join((env_str("PORTAL_OIDC_LABEL") or "your organisation's account").split())
    return {
        "PORTAL_SSO_ENABLED": configured,
        "PORTAL_OIDC_ISSUER": issuer,
        "PORTAL_OIDC_ENDPOINTS": endpoints,
        "PORTAL_OIDC_ORIGINS": origins,
        "PORTAL_OIDC_INSTITUTION_CLAIM": _claim_name("PORTAL_OIDC_INSTITUTION_CLAIM"),
        "PORTAL_OIDC_ROLE_CLAIM": _claim_name("PORTAL_OIDC_ROLE_CLAIM"),
        "PORTAL_OIDC_LABEL": label[:80],
        "OIDC_RP_CLIENT_ID": client_id,
        "OIDC_RP_CLIENT_SECRET": env_str("PORTAL_OIDC_CLIENT_SECRET") or "",
        "OIDC_RP_SCOPES": scopes,
        # The provider signs ID tokens with its private key; the portal checks them with
        # the public keys it publishes (JWKS). No shared-secret (HS256) tokens.
        "OIDC_RP_SIGN_ALGO": "RS256",
        "OIDC_USE_PKCE": True,
        "OIDC_TIMEOUT": env_int("PORTAL_OIDC_TIMEOUT", 10, minimum=1),
        # Kept in the session for the provider's logout (id_token_hint).
        "OIDC_STORE_ID_TOKEN": True,
        # The portal asks the provider again after this long (portal.sso.middleware).
        "OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS": env_int("PORTAL_OIDC_RENEW_SECONDS", 900, minimum=30),
        "OIDC_CALLBACK_CLASS": "portal.sso.views.CallbackView",
        "OIDC_AUTHENTICATE_CLASS": "portal.sso.views.StartView",
        "OIDC_OP_LOGOUT_URL_METHOD": "portal.sso.views.provider_logout_url",
        "LOGIN_REDIRECT_URL_FAILURE": "login",
        # The session-timeout poll and the probes are not pages: never sent to the provider.
        "OIDC_EXEMPT_URLS": ["logout"],
    }


def enabled() -> bool:
    from django.conf import settings

    return bool(getattr(settings, "PORTAL_SSO_ENABLED", False))


def label() -> str:
    from django.conf import settings

    return settings.PORTAL_OIDC_LABEL
