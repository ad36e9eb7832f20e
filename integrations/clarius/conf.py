"""The Clarius configuration of this installation, read from Django settings."""

import functools
from typing import Any

from django.conf import settings

from integrations.clarius.api.errors import OriginRefused
from integrations.clarius.api.origin import OriginGuard
from integrations.clarius.api.transport import Timeouts


def allow_http() -> bool:
    """Whether plain http is allowed: ``CLARIUS_ALLOW_HTTP``, by default ``DEBUG``."""
    return bool(getattr(settings, "CLARIUS_ALLOW_HTTP", settings.DEBUG))


def client_options() -> dict[str, Any]:
    """The constructor arguments both Clarius clients take from settings."""
    return {
        "api_url": settings.CLARIUS_API_URL,
        "media_origins": list(settings.CLARIUS_MEDIA_ORIGINS),
        "allow_http": allow_http(),
        "timeouts": Timeouts(
            connect=settings.CLARIUS_TIMEOUT_CONNECT,
            read=settings.CLARIUS_TIMEOUT_READ,
            download_read=settings.CLARIUS_TIMEOUT_DOWNLOAD_READ,
        ),
    }


def origin_guard() -> OriginGuard:
    """The origin guard for ``CLARIUS_API_URL`` and ``CLARIUS_MEDIA_ORIGINS``."""
    return _origin_guard(
        settings.CLARIUS_API_URL, tuple(settings.CLARIUS_MEDIA_ORIGINS), allow_http()
    )


@functools.lru_cache(maxsize=8)
def _origin_guard(api_url: str, media_origins: tuple[str, ...], allow_http: bool) -> OriginGuard:
    # One per configuration: parsing the origins again for every webhook call cost more
    # than checking the URL (a guard never changes once made).
    return OriginGuard(api_url, media_origins, allow_http=allow_http)


def api_url_refusal(url: str) -> str | None:
    """Why the API credential may not be sent to ``url``; ``None`` if it may."""
    try:
        origin_guard().check_api(url)
    except OriginRefused as e:
        return str(e)
    return None
