"""The one rule for text that comes from outside before it reaches a column or a page.

Outside text (Clarius exam documents, operator and patient names, uploaded names) may
carry characters that PostgreSQL refuses (NUL, lone surrogates), that a terminal or a
log reader interprets (C0/C1 controls), or that reorder what a reviewer reads (bidi
overrides such as U+202E, which can make "MRN 123" display as "321 NRM"). The raw
document is kept as received elsewhere (the receipt, the raw exam document); what the
portal stores in its columns and shows on its pages is cleaned here.
"""

import re
from typing import Any

# NUL and the other C0 controls except tab, newline and carriage return; DEL and the C1
# controls; the bidi embeddings, overrides, isolates and marks; the BOM and zero-width
# no-break space; lone surrogates (which json.loads accepts from "\ud800").
_ALWAYS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
    "\ud800-\udfff"
)
_CONTROLS = re.compile(f"[{_ALWAYS}]")
# On a single line, tab, newline and carriage return become spaces.
_LINE_BREAKS = re.compile(r"[\t\n\r]+")
# What PostgreSQL cannot store at all, in text or jsonb: removed from raw documents too.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

ELLIPSIS = "…"


def clean_text(value: Any, *, max_length: int | None = None, multiline: bool = False) -> str:
    """``value`` as text safe to store and show: controls and bidi overrides removed,
    line breaks folded to spaces unless ``multiline``, and cut to ``max_length``
    characters (ending in an ellipsis) when it is longer."""
    text = "" if value is None else str(value)
    text = _CONTROLS.sub("", text)
    if not multiline:
        text = _LINE_BREAKS.sub(" ", text)
    if max_length is not None and len(text) > max_length:
        text = text[: max(max_length - 1, 0)] + ELLIPSIS
    return text


def storable(value: Any) -> Any:
    """A JSON-like ``value`` (dicts, lists, strings, numbers) with what PostgreSQL
    cannot store removed from every string and key: NUL and lone surrogates. Nothing
    else is changed, so a raw document stays as close to what was received as a
    database column allows."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def has_unstorable(value: str) -> bool:
    """Whether ``value`` holds a character PostgreSQL cannot store."""
    return bool(_UNSTORABLE.search(value))
