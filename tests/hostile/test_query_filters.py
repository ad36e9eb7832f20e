"""Whatever the filter and search parameters of the worklist, the audit log and the API
hold (NUL, which PostgreSQL refuses; invalid UTF-8; dates at the ends of the calendar;
numbers of thousands of digits; repeated and unknown parameters), the answer is a page
(200) or a 400 with the reason, never a 5xx."""

from urllib.parse import quote_from_bytes

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from tests.dashboard.conftest import exam

pytestmark = pytest.mark.hostile

WORKLIST = [
    "q",
    "review_state",
    "status",
    "operator",
    "reviewer",
    "submitted_from",
    "submitted_to",
    "sort",
    "size",
]
AUDIT_LOG = ["user", "action", "date_from", "date_to"]
API_LIST = [
    *WORKLIST,
    "exam_uuid",
    "submitted_after",
    "page",
    "page_size",
    "cursor",
]
API_CAPTURES = ["page", "page_size", "cursor"]


def problem_fields(response) -> set:
    """The fields a 400 problem (RFC 9457) names; it always has its reason."""
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400 and body["detail"] and body["errors"]
    return {error.get("field") for error in body["errors"]}


tricky = st.sampled_from(
    [
        "\x00",
        "MRN\x00123",
        "%00",
        "9999-12-31",
        "0001-01-01",
        "10000-01-01",
        "2026-02-30",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "2026-01-01T00:00:00",
        "2026-01-01T25:00:00Z",
        "9" * 5000,
        "-1",
        "0",
        "1e999",
        "NaN",
        "me",
        "none",
        "new",
        "ready",
        "-submitted",
        "patient",
        "25",
        "5b1fd1a0-1b8e-4f0c-9a59-1a7c0f3e9d11",
        "{5b1fd1a0-1b8e-4f0c-9a59-1a7c0f3e9d11}",
        "urn:uuid:5b1fd1a0-1b8e-4f0c-9a59-1a7c0f3e9d11",
        "\u202e\u0131\ufeff",
        "a" * 10_000,
        "' OR 1=1 --",
        "%",
        "_",
        "\\",
    ]
)
generic = st.one_of(
    tricky,
    st.text(max_size=50),
    st.binary(max_size=50),
)
days = st.one_of(
    st.dates().map(str),
    st.sampled_from(["9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01", "2026-1-1"]),
)
moments = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.builds(
        lambda day, sign, hours, minutes: f"{day}T00:00:00{sign}{hours:02}:{minutes:02}",
        st.sampled_from(["0001-01-01", "9999-12-31", "2026-06-01"]),
        st.sampled_from("+-"),
        st.integers(0, 23),
        st.integers(0, 59),
    ),
)
numbers = st.one_of(
    st.integers().map(str),
    st.integers(min_value=4000, max_value=6000).map(lambda n: "9" * n),
    st.sampled_from(["last", "0", "-1", "1.5", "1e3", " 1", "\u0661"]),
)
# What each parameter is likely to be fed besides anything at all.
LIKELY = {
    "submitted_from": days,
    "submitted_to": days,
    "date_from": days,
    "date_to": days,
    "submitted_after": moments,
    "page": numbers,
    "page_size": numbers,
    "size": numbers,
    "operator": numbers,
    "user": numbers,
    "reviewer": numbers,
}


def value_for(name):
    """Bytes as a client sends them: text (lone surrogates as a broken encoder writes
    them) or bytes that are not UTF-8 at all."""
    text = st.one_of(LIKELY.get(name, tricky), generic)
    return st.one_of(
        text.map(lambda v: v if isinstance(v, bytes) else v.encode("utf-8", "surrogatepass")),
        st.binary(max_size=30),
    )


def query_string(names, data) -> str:
    """Some of ``names`` (and an unknown one, sometimes twice) with hostile values."""
    chosen = data.draw(st.lists(st.sampled_from([*names, "unknown"]), max_size=6))
    pairs = [(name, data.draw(value_for(name))) for name in chosen]
    return "&".join(f"{name}={quote_from_bytes(value, safe='')}" for name, value in pairs)


@pytest.fixture
def exams(trio, northside):
    return [exam(northside, trio[0]) for _ in range(2)]


@pytest.fixture
def bob_key(trio, settings):
    from tests.api.keyring import key_for

    settings.PORTAL_API_KEY_RATE = "1000000/min"  # every example with the one key
    return key_for(trio[1], scope="read")


@given(data=st.data())
def test_any_worklist_filter_is_a_page_or_a_400(client, trio, exams, data):
    client.force_login(trio[data.draw(st.sampled_from([0, 1]))])  # admin, reviewer
    response = client.get(reverse("worklist") + "?" + query_string(WORKLIST, data))
    assert response.status_code in (200, 400)


@given(data=st.data())
def test_any_audit_log_filter_is_a_page_or_a_400(client, trio, exams, data):
    client.force_login(trio[0])
    response = client.get(reverse("audit-log") + "?" + query_string(AUDIT_LOG, data))
    assert response.status_code in (200, 400)


@given(data=st.data())
def test_any_api_filter_is_a_list_or_a_400_with_the_reason(client, bob_key, exams, data):
    url = reverse("api-exam-list") + "?" + query_string(API_LIST, data)
    response = client.get(url, headers={"Authorization": f"Bearer {bob_key}"})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert problem_fields(response) <= {*API_LIST, None}


@given(data=st.data())
def test_any_api_capture_page_is_a_list_or_a_400_with_the_reason(client, bob_key, exams, data):
    url = reverse("api-exam-captures", args=[exams[0].pk]) + "?"
    response = client.get(
        url + query_string(API_CAPTURES, data), headers={"Authorization": f"Bearer {bob_key}"}
    )
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert problem_fields(response) <= {*API_CAPTURES, None}


@pytest.mark.parametrize("url", ["/worklist/", "/institution/audit/", "/api/v1/exams/"])
@pytest.mark.parametrize("param", ["q", "status", "exam_uuid", "submitted_after", "user"])
def test_a_nul_in_any_parameter_is_never_a_500(client, trio, exams, url, param):
    client.force_login(trio[0])
    assert client.get(f"{url}?{param}=%00").status_code in (200, 400)
    assert client.get(f"{url}?{param}=a%00b").status_code in (200, 400)
