"""The Clarius clients of this installation: the one place they are built from settings.

``api/`` knows nothing of Django; this module gives it ``CLARIUS_API_URL``,
``CLARIUS_MEDIA_ORIGINS``, ``CLARIUS_ALLOW_HTTP`` (default ``DEBUG``), the
``CLARIUS_TIMEOUT_*`` values and, for the Service API, the key in use (the one stored
encrypted by the portal, seeded from ``CLARIUS_API_KEY`` and replaced by rotation; see
``account/keys.py``). Callers use ``clients.service_client()`` (an attribute lookup, so a
test replaces the factory here, once, for every caller).
"""

from __future__ import annotations

from typing import Any

from integrations.clarius import conf
from integrations.clarius.account.keys import api_key_in_use
from integrations.clarius.api.client import ResearchClient, ServiceClient


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
