"""Thousands of captures on one exam, made in bulk (rows only, no media files: the pages
and the API only link to the bytes)."""

import re

from portal.exams.models import Capture

BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Outside text with what must not reach a page as is: a bidi override, an isolate, NUL
# (written with ``storable``, which drops it on PostgreSQL), a line break and a tab.
HOSTILE_NAME = "\u202eNora\u2066 \x00North\nTab\tEnd"


def add_captures(exam, count):
    submission = exam.submissions.get()
    start = exam.captures.count()
    Capture.objects.bulk_create(
        [
            Capture(
                institution=exam.institution,
                exam=exam,
                submission=submission,
                position=position,
                source_url="https://example.invalid/",
                state=Capture.State.DONE,
                content_type="image/png",
                size=68,
                file=f"captures/{exam.pk}/{position}.png",
            )
            for position in range(start, start + count)
        ],
        batch_size=1000,
    )


def has_bidi(text: str) -> bool:
    """Whether ``text`` holds a bidi embedding, override, isolate or mark."""
    return bool(BIDI_CONTROLS.search(text))
