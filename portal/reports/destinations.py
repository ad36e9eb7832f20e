"""Where a signed report goes: the registry of destinations.

The core knows no outside system. An integration registers a ``Destination`` in its
``AppConfig.ready()`` (Clarius registers the upload to the exam's submission; PACS, the
EHR and partner webhooks come the same way), and every report version issued afterwards
gets one ``Delivery`` row per destination that accepts it, each sent by the worker with
the one retry policy.

A destination's ``send(delivery, path)`` delivers the version's PDF at ``path`` and
returns what the destination calls it (or ``""``); it raises ``DeliveryFailed`` with a
message a person can act on, ``permanent=True`` when no retry can help.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portal.registries import Registry


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Destination:
    key: str  # stored on each delivery: never rename one that has rows
    label: str  # shown to staff ("Clarius Cloud")
    send: Callable[..., str]  # send(delivery, path) -> remote id
    accepts: Callable[..., bool] = lambda report: True  # accepts(report) -> bool


_destinations: Registry[Destination] = Registry("destination")
register = _destinations.register
registered = _destinations.all
get = _destinations.get


def label_of(key: str) -> str:
    destination = _destinations.get(key)
    return destination.label if destination else key


def for_report(report) -> list[Destination]:
    return [d for d in _destinations.all() if d.accepts(report)]


__all__ = ["DeliveryFailed", "Destination", "for_report", "get", "label_of", "register"]
