"""The kinds of destination an integration can add: the registry the core reads.

An integration (``integrations/dicom``, ``integrations/hl7``, ``integrations/fhir``)
registers a ``Kind`` in its ``AppConfig.ready()``. The core builds the destination's
form, the ``destination`` command's options and the pages from ``fields``, plans only
the objects the kind ``carries``, and calls ``send`` and ``test``; it never names a
protocol.

- ``send(transmission) -> str`` sends one object or message and returns the remote's
  answer in a line (kept on the row); it raises ``DeliveryFailed`` with a message a
  person can act on (``permanent=True`` when no retry can help).
- ``test(destination) -> str`` checks the destination answers (a C-ECHO, an MLLP round
  trip, a FHIR ``metadata`` read) and says what it found; it raises ``DeliveryFailed``.
- ``describe(destination) -> str``: where it sends, in a line, never the secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portal.registries import Registry
from portal.reports.destinations import DeliveryFailed

IMAGES = frozenset({"image", "clip", "research"})
REPORT = frozenset({"report"})


@dataclass(frozen=True)
class Option:
    """One setting of a kind, stored in ``Destination.options`` under ``name``.

    ``type``: ``text``, ``int``, ``bool`` or ``url``. The command line takes it as
    ``--<name with dashes>``; ``check`` is the protocol's own rule for the value.
    """

    name: str
    label: str
    type: str = "text"
    required: bool = False
    default: object = None
    help: str = ""
    max_length: int = 200
    # The protocol's own rule for a value (an AE title's repertoire, a URL without
    # credentials): returns the value or raises ValueError with the words to show. The
    # page's form and the command both apply it, so a bad value is refused when typed,
    # not when the first exam is sent.
    check: Callable[[object], object] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Kind:
    key: str  # stored on each destination: never rename one that has rows
    label: str  # "DICOM C-STORE"
    carries: frozenset  # which Transmission.What values it takes
    send: Callable[..., str]
    test: Callable[..., str]
    describe: Callable[..., str]
    options: tuple[Option, ...] = ()
    secret_label: str = ""  # "Bearer token"; empty when the kind has no secret
    secret_flag: str = "--token"
    help: str = ""  # a sentence shown on the add page
    # A template with what to ask the hospital for, shown on the add and edit pages.
    help_template: str = ""

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


_kinds: Registry[Kind] = Registry("destination kind")
register = _kinds.register
registered = _kinds.all
get = _kinds.get


def choices() -> list[tuple[str, str]]:
    return [(k.key, k.label) for k in _kinds.all()]


__all__ = ["IMAGES", "REPORT", "DeliveryFailed", "Kind", "Option", "choices", "get", "register"]
