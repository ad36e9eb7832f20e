"""Reading JSON that comes from outside (notifications, Clarius documents, page links,
browser reports) safely.

``json.loads`` on its own is not safe for outside input: a thousand nested ``[`` raise
``RecursionError`` (not ``ValueError``, so nothing catches it), a number of 5,000 digits
raises "Exceeds the limit (4300 digits)", ``NaN`` and ``1e999`` come back as floats that
neither PostgreSQL's jsonb nor strict JSON can hold, and a key sent twice silently keeps
the last value. :func:`loads` measures the nesting first with a flat scan (it cannot
recurse), then parses with every one of those cases decided: refused with a reason
(:class:`RefusedJSON`, a ``ValueError``), or, for ``lenient_numbers``, kept as the text
that was sent.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

from portal.text import clean_text

# A JSON string (escapes included; an unterminated one runs to the end) or a bracket.
# Unrolled so that the scan stays linear whatever the input.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)
_LEVEL = {"[": 1, "{": 1, "]": -1, "}": -1}

Duplicates = Literal["reject", "conflicting", "last"]


class RefusedJSON(ValueError):
    """The input is not JSON the portal accepts. The message says why and reads after the
    name of what was parsed: "body is nested deeper than 16 levels"."""


def nesting_depth(text: str, limit: int) -> int:
    """How deep ``text`` nests arrays and objects, counting no further than ``limit + 1``.

    Brackets inside strings do not count. A flat loop over the tokens, so a document of
    any depth is measured without recursion.
    """
    level = deepest = 0
    for match in _TOKENS.finditer(text):
        level += _LEVEL.get(match.group(), 0)
        if level > deepest:
            deepest = level
            if deepest > limit:
                break
    return deepest


def shown_key(key: str) -> str:
    """A key as it may appear in a message: cleaned and short."""
    return repr(clean_text(key, max_length=60))


def loads(
    data: bytes | str,
    *,
    max_depth: int,
    duplicates: Duplicates = "reject",
    lenient_numbers: bool = False,
) -> Any:
    """Parse ``data`` or raise :class:`RefusedJSON` with the reason.

    ``duplicates``: ``"reject"`` refuses any key sent twice in one object,
    ``"conflicting"`` only one sent twice with different values (the same value twice is
    not ambiguous), ``"last"`` keeps the last (plain ``json.loads``).
    ``lenient_numbers``: ``NaN``, ``Infinity``, a float out of range (``1e999``) and an
    integer too long for Python are kept as the text that was sent instead of refused.
    """
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode(json.detect_encoding(data), "surrogatepass")
        except UnicodeDecodeError as e:
            raise RefusedJSON(
                f"is not valid JSON: not UTF-8 ({e.reason} at byte {e.start})"
            ) from None
    # Fewer opening brackets than the limit cannot nest deeper than it (counting is cheap;
    # a notification has one): the scan is for the documents that might.
    deep = data.count("[") + data.count("{") > max_depth
    if deep and nesting_depth(data, max_depth) > max_depth:
        raise RefusedJSON(f"is nested deeper than {max_depth} levels")
    try:
        return json.loads(
            data,
            object_pairs_hook=_pairs_hook(duplicates),
            parse_constant=_constant if lenient_numbers else _refuse_constant,
            parse_float=_float if lenient_numbers else _strict_float,
            parse_int=_int if lenient_numbers else _strict_int,
        )
    except RefusedJSON:
        raise
    except RecursionError:  # the depth check makes this unreachable; never a 500 anyway
        raise RefusedJSON(f"is nested deeper than {max_depth} levels") from None
    except ValueError as e:  # JSONDecodeError included
        raise RefusedJSON(f"is not valid JSON: {e}") from None


def _pairs_hook(duplicates: Duplicates):
    if duplicates == "last":
        return dict

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                if duplicates == "reject":
                    raise RefusedJSON(f"repeats the key {shown_key(key)}")
                if result[key] != value:
                    raise RefusedJSON(f"repeats the key {shown_key(key)} with different values")
            result[key] = value
        return result

    return hook


def _refuse_constant(name: str) -> Any:
    raise RefusedJSON(f"is not valid JSON: {name} is not a JSON value")


def _constant(name: str) -> str:
    return name


def _strict_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RefusedJSON(f"holds the number {text[:40]}, out of range")
    return value


def _float(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else text


def _strict_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RefusedJSON(f"holds a number of {len(text)} digits") from None


def _int(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text
