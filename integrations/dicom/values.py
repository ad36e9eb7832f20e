"""Portal text made into valid DICOM values: each VR's length limit and forbidden characters.

Outside text (a patient's name from Clarius, an accession number typed at the bedside)
may be longer than a VR allows or hold characters with a meaning in DICOM: ``\\`` splits
values in every string VR except LT/ST/UT, ``^`` and ``=`` split a person name. An
object with such a value is invalid (or means something else), so values are cleaned
and cut here, once, for every object the portal makes.

Lengths are counted in bytes of UTF-8 (the character set of every object made,
``ISO_IR 192``): the standard counts "characters", which for multi-byte text toolkits
read differently; the byte count is within every reading.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from portal.exams.models import sex_of

# C0 and C1 controls (NUL included), DEL, and the bidi overrides that reorder text.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")

LIMITS = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64, "ST": 1024, "LT": 10240}


def _fit(text: str, limit: int) -> str:
    """``text`` cut so its UTF-8 encoding is at most ``limit`` bytes, never mid-character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore").rstrip()


def text(value, vr: str = "LO") -> str:
    """A single-valued string of ``vr``: controls removed, ``\\`` replaced, cut to fit."""
    cleaned = _CONTROLS.sub(" ", "" if value is None else str(value))
    if vr not in ("LT", "ST", "UT"):
        cleaned = cleaned.replace("\\", "/")
    cleaned = _SPACES.sub(" ", cleaned).strip()
    if vr == "CS":
        cleaned = re.sub(r"[^A-Z0-9 _]", "", cleaned.upper())
    return _fit(cleaned, LIMITS.get(vr, 64))


def _component(value) -> str:
    # ^ and = separate the components and groups of a person name.
    return text(str(value or "").replace("^", " ").replace("=", " "), "PN")


def person_name(family="", given="", middle="") -> str:
    """A PN value ``Family^Given^Middle``, trailing empty components left out as the
    standard asks, at most 64 bytes in all (the limit is per component group, which
    validators read as the whole value): the longest component is cut first."""
    parts = [_component(family), _component(given), _component(middle)]
    while parts and not parts[-1]:
        parts.pop()
    while len("^".join(parts).encode("utf-8")) > LIMITS["PN"]:
        excess = len("^".join(parts).encode("utf-8")) - LIMITS["PN"]
        sizes = [len(p.encode("utf-8")) for p in parts]
        longest = max(range(len(parts)), key=sizes.__getitem__)
        others = sorted(sizes, reverse=True)
        room = sizes[longest] - (others[1] if len(others) > 1 else 0)
        parts[longest] = _fit(parts[longest], sizes[longest] - max(1, min(excess, room)))
    return "^".join(parts)


def person_name_of(full_name) -> str:
    """A person name from one line of text: "Last, First Middle" or "First Middle Last"."""
    full = text(full_name, "LT")
    if not full:
        return ""
    if "," in full:
        family, _, rest = full.partition(",")
        given, _, middle = rest.strip().partition(" ")
        return person_name(family, given, middle)
    words = full.split(" ")
    if len(words) == 1:
        return person_name(words[0])
    return person_name(words[-1], words[0], " ".join(words[1:-1]))


def sex(gender) -> str:
    """PatientSex (M, F, O) by the portal's one rule (``portal.exams.models.sex_of``);
    empty when unknown."""
    return {"male": "M", "female": "F", "other": "O"}.get(sex_of(gender), "")


def da(value: date | datetime | None) -> str:
    return value.strftime("%Y%m%d") if value else ""


def tm(value: datetime | None) -> str:
    return value.strftime("%H%M%S") if value else ""


def tz_offset(value: datetime) -> str:
    """TimezoneOffsetFromUTC (``+HHMM``) of an aware local time."""
    offset = value.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
