"""Pages an integration adds to the main navigation (Clarius links, partner webhooks).

The core's own pages are in ``templates/base.html``; an integration registers its pages
in ``AppConfig.ready()`` and the header lists them after the core's: ``admin`` pages for
the institution's administrators, the others for every signed-in user.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.registries import Registry


@dataclass(frozen=True)
class NavPage:
    key: str
    label: str
    url_name: str
    admin: bool = True  # shown to the institution's administrators only
    also_current: tuple = ()  # other URL names under which this entry is the current page

    def is_current(self, url_name: str) -> bool:
        return url_name == self.url_name or url_name in self.also_current


_pages: Registry[NavPage] = Registry("navigation page")
register = _pages.register
registered = _pages.all
