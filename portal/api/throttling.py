"""Per-key request rate: ``PORTAL_API_KEY_RATE`` requests (default 600 a minute).

Past it, a 429 with ``Retry-After``. Counted in Django's cache (per process with the
default local-memory cache; configure a shared cache to count across processes).
Requests without a key (the browser's session) are not counted here.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from portal.api.models import ApiKey

DEFAULT_RATE = "600/min"


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        return getattr(settings, "PORTAL_API_KEY_RATE", DEFAULT_RATE)

    def get_cache_key(self, request, view):
        key = getattr(request, "auth", None)
        if not isinstance(key, ApiKey):
            return None
        return f"throttle_api_key_{key.prefix}"
