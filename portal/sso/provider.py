"""The identity provider's endpoints: set explicitly, or read from its discovery document.

The document (``<issuer>/.well-known/openid-configuration``) is fetched the first time a
sign-in needs it, never at start-up (the portal starts whether or not the provider is
reachable), and kept for an hour in each process.
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from django.conf import settings

logger = logging.getLogger("portal.sso")

_CACHE_SECONDS = 3600
_lock = threading.Lock()
_cache: dict = {}


class ProviderUnavailable(Exception):
    """The provider's discovery document could not be read; the message says why."""


def _discover(issuer: str) -> dict:
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as e:
        logger.warning("sso: cannot read the provider's discovery document %s: %s", url, e)
        raise ProviderUnavailable("The identity provider cannot be reached.") from None
    if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer:
        logger.warning("sso: the discovery document at %s names another issuer", url)
        raise ProviderUnavailable("The identity provider's configuration does not match.")
    return document


def endpoints() -> dict[str, str]:
    """Each endpoint the portal uses, by its discovery name ("" when the provider has none)."""
    explicit = dict(settings.PORTAL_OIDC_ENDPOINTS)
    issuer = settings.PORTAL_OIDC_ISSUER
    needed = [key for key, value in explicit.items() if not value]
    if not issuer or not needed:
        return explicit
    with _lock:
        cached = _cache.get(issuer)
        if cached is None or cached[0] < time.monotonic():
            cached = (time.monotonic() + _CACHE_SECONDS, _discover(issuer))
            _cache[issuer] = cached
    document = cached[1]
    for key in needed:
        value = document.get(key)
        explicit[key] = value if isinstance(value, str) else ""
    return explicit


def forget() -> None:
    """Read the discovery document again next time (tests, a provider that moved)."""
    with _lock:
        _cache.clear()


# mozilla-django-oidc's setting names for each endpoint.
SETTING_NAMES = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def get_setting(attr, *args):
    """mozilla-django-oidc's ``get_settings``, with the endpoints filled in from here."""
    from mozilla_django_oidc.utils import import_from_settings

    if attr in SETTING_NAMES:
        return endpoints()[SETTING_NAMES[attr]]
    return import_from_settings(attr, *args)
