"""Whatever ``Range`` header asks for a capture (positions of thousands of digits, other
units, several ranges, stray characters), the answer is the whole file (200), exactly
the asked bytes (206) or "not satisfiable" (416 with the size), never a 5xx."""

import re

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from portal import storage
from tests.factories import make_exam

pytestmark = pytest.mark.hostile

CONTENT = bytes(range(256)) * 4  # every byte value, so a shifted range shows

digits = st.one_of(
    st.integers(min_value=0, max_value=1100).map(str),
    st.text(alphabet="0123456789", max_size=20),
    st.integers(min_value=4000, max_value=6000).map(lambda n: "9" * n),  # past int()'s limit
    st.builds(lambda zeros, n: "0" * zeros + str(n), st.integers(0, 50), st.integers(0, 2000)),
)
spaces = st.sampled_from(["", " ", "\t", "  "])
unit = st.sampled_from(["bytes", "BYTES", "Bytes", "byte", "items", "", "bytes "])
one_range = st.builds(lambda a, b: f"{a}-{b}", digits, digits)
ranges = st.lists(one_range, min_size=1, max_size=4).map(",".join)
well_formed = st.builds(lambda u, s1, r, s2: f"{s1}{u}={r}{s2}", unit, spaces, ranges, spaces)
junk = st.text(
    alphabet=st.one_of(st.characters(max_codepoint=0x2FF), st.sampled_from("=-,0123456789٣")),
    max_size=200,
)
canonical = st.builds(lambda a, b: f"bytes={a}-{b}", digits, digits)
headers = st.one_of(canonical, well_formed, junk, st.builds(lambda a, b: a + b, well_formed, junk))

CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


@pytest.fixture
def capture(settings, tmp_path, bob, northside):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    made = make_exam(northside, bob).captures.get()
    storage.local_file(made.file).write_bytes(CONTENT)
    return made


def check(response):
    """The answer is one of the three, and its bytes are the file's."""
    status = response.status_code
    assert status in (200, 206, 416), status
    if status == 416:
        assert response["Content-Range"] == f"bytes */{len(CONTENT)}"
        return
    body = b"".join(response.streaming_content)
    if status == 200:
        assert body == CONTENT
        return
    start, end, size = map(int, CONTENT_RANGE.fullmatch(response["Content-Range"]).groups())
    assert size == len(CONTENT) and 0 <= start <= end < size
    assert body == CONTENT[start : end + 1]
    assert response["Content-Length"] == str(len(body))


@given(header=headers)
def test_any_range_header_on_the_api_media_is_200_206_or_416(client, bob, capture, header):
    client.force_login(bob)
    check(client.get(reverse("api-capture-media", args=[capture.pk]), HTTP_RANGE=header))


@given(header=headers)
def test_any_range_header_on_the_exam_page_media_is_200_206_or_416(client, bob, capture, header):
    client.force_login(bob)
    url = reverse("exam-capture", args=[capture.exam_id, capture.pk])
    check(client.get(url, HTTP_RANGE=header))


@given(first=st.integers(0, 2000), length=st.integers(0, 2000))
def test_a_satisfiable_range_gets_exactly_its_bytes(client, bob, capture, first, length):
    client.force_login(bob)
    url = reverse("api-capture-media", args=[capture.pk])
    response = client.get(url, HTTP_RANGE=f"bytes={first}-{first + length}")
    check(response)
    assert response.status_code == (206 if first < len(CONTENT) else 416)
