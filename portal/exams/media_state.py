"""An exam's media in words: how many captures are still coming, which failed, why, and
what happens next (``portal.work.words``, by the one retry policy).

Each capture is a row of durable work (``Capture`` has the ``Work`` fields); whichever
integration downloads it records each attempt's outcome on the row, so the core reads
the state from the rows alone. The exam page shows ``exam_media_state`` above the
gallery and ``capture_words`` in each capture's place, and media.json (polled while work
is in progress) sends the same words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from portal.exams.models import Capture, Exam
from portal.work.words import Attempts, row_words

SOURCE = "Clarius"  # where captures come from (the only source so far)


def capture_words(capture: Capture, now=None) -> Attempts:
    """One capture that is not (yet) downloaded, in words."""
    return row_words(
        capture,
        failed=capture.state == Capture.State.FAILED,
        who=SOURCE,
        unknown="The download failed",
        now=now,
    )


def capture_text(capture: Capture, now=None) -> str:
    """What stands in a capture's place in the gallery until it is downloaded."""
    if capture.state == Capture.State.DONE:
        return ""
    words = capture_words(capture, now)
    if capture.state == Capture.State.FAILED:
        return f"Could not be downloaded. {words.sentence}".strip()
    if words.tone == "retrying":
        return words.sentence
    return f"Downloading from {SOURCE}…"


def capture_tone(capture: Capture, now=None) -> str:
    if capture.state == Capture.State.DONE:
        return "done"
    return capture_words(capture, now).tone


@dataclass
class MediaState:
    total: int = 0
    done: int = 0
    waiting: int = 0  # pending, no failed attempt yet
    retrying: int = 0  # pending after a failed attempt
    failed: int = 0  # given up
    lines: list[tuple[str, str]] = field(default_factory=list)  # (tone, sentence)

    @property
    def in_progress(self) -> bool:
        return bool(self.waiting or self.retrying)

    @property
    def tone(self) -> str:
        if self.failed:
            return "failed"
        if self.retrying:
            return "retrying"
        return "working" if self.waiting else "done"

    def as_json(self) -> dict:
        return {
            "total": self.total,
            "done": self.done,
            "waiting": self.waiting,
            "retrying": self.retrying,
            "failed": self.failed,
            "in_progress": self.in_progress,
            "tone": self.tone,
            "lines": [{"tone": tone, "text": text} for tone, text in self.lines],
        }


def _captures(n: int) -> str:
    return f"{n} capture{'s' if n != 1 else ''}"


def exam_media_state(exam: Exam, now=None) -> MediaState:
    """The exam's captures summed up (copies a resubmission sent again left out), with a
    sentence per kind of trouble; a few aggregate queries, never every row."""
    now = now or timezone.now()
    captures = exam.captures.filter(duplicate_of__isnull=True)
    pending = Q(state=Capture.State.PENDING)
    counts = captures.aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(state=Capture.State.DONE)),
        waiting=Count("pk", filter=pending & Q(last_error="")),
        retrying=Count("pk", filter=pending & ~Q(last_error="")),
        failed=Count("pk", filter=Q(state=Capture.State.FAILED)),
    )
    state = MediaState(**counts)
    coming = state.waiting + state.retrying
    if coming:
        state.lines.append(
            (
                "working",
                f"{coming} of {_captures(state.total)} still downloading from {SOURCE}.",
            )
        )
    if state.retrying:
        # The one retried next speaks for them: the same outage fails them all alike.
        first = captures.filter(pending).exclude(last_error="").order_by("next_attempt_at").first()
        words = capture_words(first, now)
        state.lines.append(
            ("retrying", f"{_captures(state.retrying)} failed to download: {words.sentence}")
        )
    if state.failed:
        last = captures.filter(state=Capture.State.FAILED).order_by("-last_attempt_at").first()
        words = capture_words(last, now)
        state.lines.append(
            ("failed", f"{_captures(state.failed)} could not be downloaded: {words.sentence}")
        )
    return state
