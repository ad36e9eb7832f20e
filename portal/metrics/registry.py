"""What the portal's metrics read, registered by the apps that own the rows.

The core counts the work rows of every registered kind (``portal.work.registry``) by
itself. Two things come from elsewhere: models whose rows are stored files with a
``size`` (``register_stored_files``: summed into ``portal_media_bytes``), and sources of
whole metric families an integration knows about (``register_source``: e.g. the Clarius
notifications). A source is a function returning prometheus_client metric families; it
reads the database with aggregate queries only and never labels anything with an
institution, a person or a patient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from portal.registries import Registry


@dataclass(frozen=True)
class StoredFiles:
    model: type
    what: str
    filters: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.what

    def rows(self):
        return self.model._default_manager.filter(size__isnull=False, **self.filters)


@dataclass(frozen=True)
class Source:
    key: str
    collect: Callable[[], Iterable]


_stored: Registry[StoredFiles] = Registry("stored-file kind")
_sources: Registry[Source] = Registry("metrics source")
stored_files = _stored.all
sources = _sources.all


def register_stored_files(model: type, what: str, **filters) -> StoredFiles:
    """``model`` rows (with ``filters``) are stored files of ``size`` bytes, as ``what``."""
    return _stored.register(StoredFiles(model, what, filters))


def register_source(key: str, collect: Callable[[], Iterable]) -> Source:
    """``collect()`` returns metric families, read at each scrape. Once per key."""
    return _sources.register(Source(key, collect))
