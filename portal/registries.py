"""The one shape of the core's registries (destinations, dashboard panels, linked accounts).

An integration adds its entries in ``AppConfig.ready()``; the core reads them. An entry
is a frozen dataclass with a ``key``; registering the same entry again (a second
``ready()`` in tests) is harmless, a different one under a taken key is a mistake.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, what: str):
        self.what = what
        self.entries: dict[str, T] = {}

    def register(self, entry: T) -> T:
        key = entry.key
        existing = self.entries.get(key)
        if existing is not None and existing != entry:
            raise ValueError(f"a {self.what} {key!r} is already registered")
        self.entries[key] = entry
        return entry

    def all(self) -> list[T]:
        return list(self.entries.values())

    def get(self, key) -> T | None:
        return self.entries.get(key)
