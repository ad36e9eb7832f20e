"""The bounded, strict JSON reader used for everything that comes from outside."""

import time

import pytest

from portal.safejson import RefusedJSON, loads, nesting_depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [{"b": []}]}', 4),
        ('["[[[[", "]]"]', 1),
        ('["\\"[[[", "\\\\"]', 1),
        ('"unterminated [[[', 0),
        ("[[[[", 4),
    ],
)
def test_it_measures_nesting_without_counting_brackets_in_strings(text, depth):
    assert nesting_depth(text, limit=100) == depth


def test_it_stops_counting_past_the_limit():
    assert nesting_depth("[" * 1_000_000, limit=16) == 17


def test_a_thousand_nested_arrays_are_refused_not_a_recursion_error():
    with pytest.raises(RefusedJSON, match="is nested deeper than 16 levels"):
        loads("[" * 1000 + "]" * 1000, max_depth=16)


def test_escaped_quotes_without_an_end_are_measured_in_linear_time():
    body = '"' + '\\"[' * 30_000
    started = time.monotonic()
    with pytest.raises(RefusedJSON):
        loads(body, max_depth=16)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("duplicates", "text", "outcome"),
    [
        ("reject", '{"a": 1, "a": 1}', "repeats the key 'a'"),
        ("conflicting", '{"a": 1, "a": 1}', {"a": 1}),
        ("conflicting", '{"a": 1, "a": 2}', "repeats the key 'a' with different values"),
        ("last", '{"a": 1, "a": 2}', {"a": 2}),
    ],
)
def test_a_key_sent_twice_is_handled_as_asked(duplicates, text, outcome):
    if isinstance(outcome, str):
        with pytest.raises(RefusedJSON, match=outcome):
            loads(text, max_depth=4, duplicates=duplicates)
    else:
        assert loads(text, max_depth=4, duplicates=duplicates) == outcome


def test_numbers_no_column_can_hold_are_refused_or_kept_as_sent():
    text = "[NaN, -Infinity, 1e999, " + "7" * 5000 + ", 0.5, 12]"
    with pytest.raises(RefusedJSON):
        loads(text, max_depth=4)
    assert loads(text, max_depth=4, lenient_numbers=True) == [
        "NaN",
        "-Infinity",
        "1e999",
        "7" * 5000,
        0.5,
        12,
    ]


def test_bytes_are_decoded_like_json_loads_would_and_invalid_utf8_is_refused():
    assert loads('{"é": "\\u0000"}'.encode("utf-16"), max_depth=4) == {"é": "\x00"}
    # An encoded surrogate passes, as with json.loads: cleaning removes it before storing.
    assert loads(b'["\xed\xa0\x80"]', max_depth=4) == ["\ud800"]
    with pytest.raises(RefusedJSON, match="not UTF-8"):
        loads(b'["\xff"]', max_depth=4)
