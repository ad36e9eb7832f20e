"""Durable work in words (portal.work.words): each kind of failure, attempt n of m by
the one retry policy, when the next attempt comes, and giving up."""

from datetime import UTC, datetime, timedelta

import pytest

from portal import work
from portal.work.words import failure_words, next_step_words, wait_words

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            'POST http://x/reports/ → HTTP 500: {"detail": "boom"}',
            "Clarius answered with an error (HTTP 500)",
        ),
        ("ServerError: HTTP 503", "Clarius answered with an error (HTTP 503)"),
        ("GET http://x/… → HTTP 429", "Clarius asked the portal to slow down (HTTP 429)"),
        ("POST http://x/ → HTTP 401", "Clarius refused access (HTTP 401)"),
        ("GET http://x/ → HTTP 404: gone", "Clarius did not find it (HTTP 404)"),
        ("POST http://x/ → HTTP 400: bad", "Clarius refused it (HTTP 400)"),
        (
            "POST http://x/reports/: connection failed (ConnectionError)",
            "Clarius could not be reached",
        ),
        ("POST http://x/reports/: timed out (ReadTimeout)", "Clarius did not answer in time"),
        (
            "GET http://x/m: download failed after 1024 bytes (ChunkedEncodingError)",
            "The download from Clarius broke off",
        ),
        (
            "GET http://x/m: Content-Length 9 is over the 8-byte cap",
            "The file is larger than the portal accepts",
        ),
        (
            "refused media of type text/html (declared image/png)",
            "Clarius sent a kind of file the portal does not keep",
        ),
        ("could not store the capture: OSError: disk full", "The portal could not store it"),
        (
            "gave up: attempt 8 of 8 ended without an outcome (the worker stopped)",
            "The worker stopped during the attempt",
        ),
        ("ValueError: nope", "Something went wrong"),
        ("", ""),
    ],
)
def test_it_says_what_went_wrong(error, words):
    assert failure_words(error) == words


def test_it_names_the_other_side():
    assert failure_words("→ HTTP 502", who="PACS") == "PACS answered with an error (HTTP 502)"
    assert failure_words("KeyError: x", unknown="The PDF could not be made") == (
        "The PDF could not be made"
    )


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (2, "now"),
        (12, "in 15 seconds"),
        (61, "in 2 minutes"),
        (120, "in 2 minutes"),
        (3600, "in 1 hour"),
        (3720, "in 1 hour 2 minutes"),
    ],
)
def test_it_says_how_long_until_the_next_attempt(seconds, words):
    assert wait_words(seconds) == words


def test_a_retry_says_when_and_which_attempt_of_the_policy():
    words = next_step_words(
        attempts=2,
        next_attempt_at=NOW + timedelta(seconds=110),
        last_error="POST http://x → HTTP 500",
        now=NOW,
    )
    assert words.tone == "retrying"
    assert words.sentence == (
        "Clarius answered with an error (HTTP 500); retrying in 2 minutes, "
        f"attempt 3 of {work.MAX_ATTEMPTS}."
    )


def test_an_unreachable_destination_is_retried_too():
    words = next_step_words(
        attempts=1,
        next_attempt_at=NOW,
        last_error="POST x: connection failed (ConnectionError)",
        now=NOW,
    )
    assert (
        words.sentence
        == f"Clarius could not be reached; retrying now, attempt 2 of {work.MAX_ATTEMPTS}."
    )


def test_a_claimed_row_is_being_tried_now():
    words = next_step_words(
        attempts=3,
        next_attempt_at=NOW,
        claimed_until=NOW + timedelta(minutes=5),
        last_error="→ HTTP 503",
        now=NOW,
    )
    assert words.next_step == f"trying now, attempt 3 of {work.MAX_ATTEMPTS}"


def test_giving_up_after_the_last_attempt():
    words = next_step_words(
        attempts=work.MAX_ATTEMPTS,
        next_attempt_at=None,
        failed=True,
        last_error="→ HTTP 503",
        now=NOW,
    )
    assert words.tone == "failed"
    assert words.sentence == (
        f"Clarius answered with an error (HTTP 503). Gave up after {work.MAX_ATTEMPTS} attempts."
    )


def test_a_permanent_failure_is_not_retried():
    words = next_step_words(
        attempts=1, next_attempt_at=None, failed=True, last_error="→ HTTP 400", now=NOW
    )
    assert (
        words.sentence
        == "Clarius refused it (HTTP 400). Not retried, as trying again would not help."
    )


def test_work_without_a_failure_says_nothing():
    words = next_step_words(attempts=0, next_attempt_at=NOW, now=NOW)
    assert (words.tone, words.sentence) == ("working", "")


def test_the_attempt_count_never_passes_the_policy():
    words = next_step_words(
        attempts=work.MAX_ATTEMPTS + 2,
        next_attempt_at=NOW + timedelta(minutes=1),
        last_error="→ HTTP 500",
        now=NOW,
    )
    assert f"attempt {work.MAX_ATTEMPTS} of {work.MAX_ATTEMPTS}" in words.sentence
