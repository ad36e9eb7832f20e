"""How much text a review may hold: every limit of the worksheet, addenda and reports.

The limits are far above anything a clinician writes (a long abdominal report is a few
thousand characters), and low enough that the largest worksheet allowed makes its PDF in
about 5 seconds of CPU, and with 50 addenda at their limit in about 20 (WeasyPrint lays
out every line; a usual report takes under a second: ``bench/bench_pdf.py``), far inside
the worker's task timeout. The PDF is drawn by the worker, not in the request, but a size
nobody needs is still refused at the door, with a message naming the field and its limit.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Characters per field of the worksheet (line breaks count as one).
FINDINGS_LIMITS = {
    "indication": 4_000,
    "views_obtained": 4_000,
    "findings": 40_000,
    "impression": 10_000,
    "clinician_feedback": 10_000,
}
ADDENDUM_LIMIT = 20_000
# Lines per field: the PDF draws line by line, and a page holds about 55 of them.
LINE_LIMIT = 1_000
# The name a report version goes to Clarius with.
REPORT_NAME_LIMIT = 200
# How many addenda one exam may carry: each new version's PDF repeats all of them.
ADDENDA_LIMIT = 50


def normalised(value: str) -> str:
    """Line breaks as browsers send them (CRLF) counted and kept as one character."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def too_long(label: str, value: str, limit: int, lines: int = LINE_LIMIT) -> str | None:
    """Why ``value`` is too long for the field ``label``, or ``None`` if it fits."""
    value = normalised(value or "")
    if len(value) > limit:
        return f"{label} is {len(value):,} characters long; the limit is {limit:,}."
    count = value.count("\n") + 1
    if count > lines:
        return f"{label} has {count:,} lines; the limit is {lines:,}."
    return None


@deconstructible
class TextLimit:
    """A form validator: at most ``limit`` characters and ``lines`` lines."""

    def __init__(self, label: str, limit: int, lines: int = LINE_LIMIT):
        self.label, self.limit, self.lines = label, limit, lines

    def __call__(self, value):
        reason = too_long(self.label, value, self.limit, self.lines)
        if reason:
            raise ValidationError(reason, code="max_length")

    def __eq__(self, other):
        return isinstance(other, TextLimit) and (self.label, self.limit, self.lines) == (
            other.label,
            other.limit,
            other.lines,
        )


def findings_too_long(findings) -> str | None:
    """The first field of a worksheet over its limit (a draft saved before the limits)."""
    from portal.reports.models import Findings

    for name, limit in FINDINGS_LIMITS.items():
        label = str(Findings._meta.get_field(name).verbose_name).capitalize()
        reason = too_long(label, getattr(findings, name), limit)
        if reason:
            return reason
    return None
