"""Durable work in words: what went wrong, and what the one retry policy does next.

A failed attempt leaves only ``last_error`` on its row: the message of whoever failed
(e.g. the Clarius client's ``POST …/reports/ → HTTP 500: {"detail": "boom"}`` or
``GET …: connection failed (ConnectionError)``). Staff read what that means and what
happens next ("Clarius answered with an error (HTTP 500); retrying in 2 minutes,
attempt 3 of 8"); the message itself stays for admins as the technical detail.

The pages that show work (report versions, capture downloads) build their sentences from
``failure_words`` and ``next_step_words``, so a retry reads the same everywhere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from portal.work.policy import MAX_ATTEMPTS

# A status code in a message: "→ HTTP 503", "HTTP 503", "HTTP 503: body".
_STATUS = re.compile(r"\bHTTP (\d{3})\b")
# Messages of attempts that got no answer at all (the client's TransportError).
_TIMED_OUT = re.compile(r"\btimed out\b|\bTimeout\b", re.I)
_UNREACHABLE = re.compile(r"connection failed|ConnectionError|invalid URL|Name or service", re.I)
_BROKE_OFF = re.compile(r"download (timed out|failed|broke off)|after \d+ bytes|body ended at")
_TOO_LARGE = re.compile(r"byte cap|larger than")
_REFUSED_TYPE = re.compile(r"refused media of type")
_STORE = re.compile(r"could not store")
_WORKER_STOPPED = re.compile(r"ended without an outcome")


def failure_words(error: str, who: str = "Clarius", unknown: str = "Something went wrong") -> str:
    """What went wrong, in a sentence without a full stop; ``""`` for no error.

    ``who`` is the other side (a destination's label, or "Clarius" for media);
    ``unknown`` is said of an error none of the known kinds fits.
    """
    error = (error or "").strip()
    if not error:
        return ""
    if _WORKER_STOPPED.search(error):
        return "The worker stopped during the attempt"
    if _REFUSED_TYPE.search(error):
        return f"{who} sent a kind of file the portal does not keep"
    if _TOO_LARGE.search(error):
        return "The file is larger than the portal accepts"
    if _STORE.search(error):
        return "The portal could not store it"
    found = _STATUS.search(error)
    if found:
        status = int(found.group(1))
        if status == 429:
            return f"{who} asked the portal to slow down (HTTP {status})"
        if status in (401, 403):
            return f"{who} refused access (HTTP {status})"
        if status == 404:
            return f"{who} did not find it (HTTP {status})"
        if 400 <= status < 500:
            return f"{who} refused it (HTTP {status})"
        return f"{who} answered with an error (HTTP {status})"
    if _BROKE_OFF.search(error):
        return f"The download from {who} broke off"
    if _TIMED_OUT.search(error):
        return f"{who} did not answer in time"
    if _UNREACHABLE.search(error):
        return f"{who} could not be reached"
    return unknown


def wait_words(seconds: float) -> str:
    """A wait as people say it, rounded up: "in 40 seconds", "in 2 minutes", "in 1 hour"."""
    if seconds < 5:
        return "now"
    if seconds < 60:
        return f"in {math.ceil(seconds / 5) * 5} seconds"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    text = f"in {hours} hour{'s' if hours != 1 else ''}"
    if minutes:
        text += f" {minutes} minute{'s' if minutes != 1 else ''}"
    return text


@dataclass(frozen=True)
class Attempts:
    """Where a row of work stands with the retry policy."""

    tone: str  # "working" (no failure yet), "retrying", "failed", "done"
    failure: str  # failure_words of its last error ("" if none)
    next_step: str  # what happens next, in words ("" if nothing)

    @property
    def sentence(self) -> str:
        """Both, as one sentence: "Clarius could not be reached; retrying in 2 minutes,
        attempt 3 of 8." (``""`` when there is nothing to say)."""
        parts = [p for p in (self.failure, self.next_step) if p]
        if not parts:
            return ""
        if self.tone != "retrying":  # two sentences: "… (HTTP 503). Gave up after 8 attempts."
            parts = [p[0].upper() + p[1:] for p in parts]
        text = "; ".join(parts) if self.tone == "retrying" else ". ".join(parts)
        text = text[0].upper() + text[1:]
        return text if text.endswith((".", ":")) else text + "."


def next_step_words(
    *,
    attempts: int,
    next_attempt_at: datetime | None,
    claimed_until: datetime | None = None,
    failed: bool = False,
    last_error: str = "",
    who: str = "Clarius",
    unknown: str = "Something went wrong",
    max_attempts: int = MAX_ATTEMPTS,
    now: datetime | None = None,
) -> Attempts:
    """A row of work (its ``Work`` fields) in words, by the one retry policy.

    ``attempts`` counts the attempts made; the next one is number ``attempts + 1``.
    ``failed``: the row is in its visible *failed* state (given up).
    """
    now = now or timezone.now()
    failure = failure_words(last_error, who, unknown)
    if failed:
        if attempts >= max_attempts:
            return Attempts("failed", failure, f"gave up after {attempts} attempts")
        if attempts > 1:
            return Attempts(
                "failed",
                failure,
                f"gave up after {attempts} attempts, as trying again would not help",
            )
        return Attempts("failed", failure, "not retried, as trying again would not help")
    if claimed_until is not None and claimed_until > now:
        step = f"trying now, attempt {max(attempts, 1)} of {max_attempts}"
        return Attempts("retrying" if failure else "working", failure, step if failure else "")
    if not failure:
        return Attempts("working", "", "")
    attempt = min(attempts + 1, max_attempts)
    if next_attempt_at is None:
        return Attempts(
            "retrying", failure, f"waiting to retry, attempt {attempt} of {max_attempts}"
        )
    wait = wait_words((next_attempt_at - now).total_seconds())
    if wait == "now":
        return Attempts("retrying", failure, f"retrying now, attempt {attempt} of {max_attempts}")
    return Attempts("retrying", failure, f"retrying {wait}, attempt {attempt} of {max_attempts}")


def row_words(row, *, failed: bool, who: str = "Clarius", now=None, **policy) -> Attempts:
    """``next_step_words`` for a row with the ``Work`` fields."""
    return next_step_words(
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        claimed_until=row.claimed_until,
        failed=failed,
        last_error=row.last_error,
        who=who,
        now=now,
        **policy,
    )
