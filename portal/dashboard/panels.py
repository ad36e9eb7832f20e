"""Panels an integration adds to the dashboard (Clarius: notifications and links).

Registered in the integration's ``AppConfig.ready()``. Each is drawn as a section of the
dashboard with its own template, for the institution's administrators only (the health
of an integration is theirs to act on); ``context(request)`` gives what the template
needs, next to the dashboard's own context (``work``: downloads and report deliveries
failed and retrying; ``members`` with their link states). See ``portal.dashboard.home``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portal.registries import Registry


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    template: str
    context: Callable  # context(request) -> dict


_panels: Registry[Panel] = Registry("dashboard panel")
register = _panels.register
registered = _panels.all
