"""The Clarius configuration of this installation, read from Django settings."""

from django.conf import settings

from integrations.clarius.api.errors import OriginRefused
from integrations.clarius.api.origin import OriginGuard


def origin_guard() -> OriginGuard:
    """The origin guard for ``CLARIUS_API_URL`` and ``CLARIUS_MEDIA_ORIGINS``."""
    return OriginGuard(
        settings.CLARIUS_API_URL,
        settings.CLARIUS_MEDIA_ORIGINS,
        allow_http=settings.CLARIUS_ALLOW_HTTP,
    )


def api_url_refusal(url: str) -> str | None:
    """Why the API credential may not be sent to ``url``; ``None`` if it may."""
    try:
        origin_guard().check_api(url)
    except OriginRefused as e:
        return str(e)
    return None
