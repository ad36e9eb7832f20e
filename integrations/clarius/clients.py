"""The Clarius clients of this installation: the one place they are built from settings.

``api/`` knows nothing of Django; this module gives it ``CLARIUS_API_URL``,
``CLARIUS_MEDIA_ORIGINS``, ``CLARIUS_ALLOW_HTTP`` (default ``DEBUG``), the
``CLARIUS_TIMEOUT_*`` values and, for the Service API, the key in use (the one stored
encrypted by the portal, seeded from ``CLARIUS_API_KEY`` and replaced by rotation; see
``account/keys.py``). Callers use ``clients.service_client()`` (an attribute lookup, so a
test replaces the factory here, once, for every caller). Media links carry no credential:
``clients.media_client()`` downloads them without looking the key up.
"""

from __future__ import annotations

import threading
from typing import Any

from integrations.clarius import conf
from integrations.clarius.account.keys import api_key_in_use
from integrations.clarius.api.client import MediaClient, ResearchClient, ServiceClient

_thread = threading.local()


def service_client(**overrides: Any) -> ServiceClient:
    """A Service API client with the key in use; ``overrides`` replace any constructor
    argument (e.g. ``api_key=`` to try a new key)."""
    options: dict[str, Any] = conf.client_options()
    if "api_key" not in overrides:
        options["api_key"] = api_key_in_use()
    options.update(overrides)
    return ServiceClient(**options)


def research_client(token: str | None = None, **overrides: Any) -> ResearchClient:
    """A Research API client, with a member's ``token`` or none yet (to authenticate)."""
    options: dict[str, Any] = {**conf.client_options(), "token": token}
    options.update(overrides)
    return ResearchClient(**options)


def media_client() -> MediaClient:
    """This thread's client for media links, kept while the settings it was made from are
    the same: a thread's downloads reuse its connections to the media store instead of
    opening one each (requests' sessions are not shared between threads). Not to be
    closed by the caller."""
    options = conf.client_options()
    kept = getattr(_thread, "media", None)
    if kept is None or kept[0] != options:
        if kept is not None:
            kept[1].close()
        kept = _thread.media = (options, MediaClient(**options))
    return kept[1]
