"""Private media goes out in ranges, so a clip can be seeked; or via the front server."""

import pytest
from django.urls import reverse

from portal.exams.serving import parse_range
from tests.factories import PNG, make_exam


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def capture(bob, northside):
    return make_exam(northside, bob).captures.get()


def get(client, capture, **headers):
    return client.get(reverse("api-capture-media", args=[capture.pk]), **headers)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=100-", "unsatisfiable"),
        ("bytes=5-2", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=-", None),
        # Positions of any length are compared, never converted whole.
        ("bytes=" + "9" * 5000 + "-", "unsatisfiable"),
        ("bytes=0-" + "9" * 5000, (0, 99)),
        ("bytes=-" + "9" * 5000, (0, 99)),
        ("bytes=" + "9" * 5000 + "-" + "8" * 5000, None),  # last before first: invalid
        ("bytes=" + "0" * 5000 + "7-9", (7, 9)),
        # A zero-length suffix is well-formed but unsatisfiable.
        ("bytes=-0", "unsatisfiable"),
        ("bytes=-000", "unsatisfiable"),
        # The unit is case-insensitive; digits are ASCII only; whitespace around is fine.
        ("BYTES=0-9", (0, 9)),
        (" bytes=0-9 ", (0, 9)),
        ("bytes=\u0661-\u0669", None),
        ("bytes=0-9\n", None),
        ("bytes=0x1-2", None),
        ("bytes=+1-2", None),
        ("bytes=1.5-2", None),
        ("bytes==0-1", None),
        ("bytes", None),
        ("", None),
    ],
)
def test_it_reads_one_byte_range(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [("bytes=0-", "unsatisfiable"), ("bytes=-1", None), ("bytes=-0", "unsatisfiable")],
)
def test_an_empty_file_has_no_satisfiable_range_but_may_be_sent_whole(header, expected):
    assert parse_range(header, 0) == expected


def test_a_range_of_thousands_of_digits_is_416_not_a_crash(client, bob, capture):
    client.force_login(bob)
    response = get(client, capture, HTTP_RANGE="bytes=" + "9" * 5000 + "-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(PNG)}"
    response = get(client, capture, HTTP_RANGE="bytes=0-" + "9" * 5000)
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == PNG


def test_a_malformed_range_sends_the_whole_file(client, bob, capture):
    client.force_login(bob)
    for header in ["bytes=9-2", "bytes=a-b", "bytes=0-1,3-4", "pages=1-2"]:
        response = get(client, capture, HTTP_RANGE=header)
        assert response.status_code == 200, header
        assert b"".join(response.streaming_content) == PNG


def test_a_range_request_gets_206_with_just_those_bytes(client, bob, capture):
    client.force_login(bob)
    response = get(client, capture, HTTP_RANGE="bytes=2-9")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 2-9/{len(PNG)}"
    assert response["Content-Length"] == "8"
    assert b"".join(response.streaming_content) == PNG[2:10]


def test_a_whole_file_says_ranges_are_accepted(client, bob, capture):
    client.force_login(bob)
    response = get(client, capture)
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert b"".join(response.streaming_content) == PNG


def test_a_range_past_the_end_is_416(client, bob, capture):
    client.force_login(bob)
    response = get(client, capture, HTTP_RANGE="bytes=9999-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(PNG)}"


def test_ranges_do_not_bypass_the_tenant_rule(client, charlie, capture):
    client.force_login(charlie)
    assert get(client, capture, HTTP_RANGE="bytes=0-9").status_code == 404


def test_the_front_server_can_send_the_file(client, bob, capture, settings):
    settings.PORTAL_MEDIA_ACCEL_REDIRECT = "/protected-media/"
    client.force_login(bob)
    response = get(client, capture)
    assert response["X-Accel-Redirect"] == f"/protected-media/{capture.file}"
    assert response.content == b""
    settings.PORTAL_MEDIA_ACCEL_REDIRECT = ""
    settings.PORTAL_MEDIA_SENDFILE = True
    assert get(client, capture)["X-Sendfile"].endswith(capture.file)
