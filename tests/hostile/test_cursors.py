"""Whatever a page link's cursor holds (any text, base64 of any JSON, nesting thousands
deep, 1e999, NaN, huge integers, NUL, lone surrogates, times that overflow), the worklist
and the audit log answer with a page (200) or "this page link is no longer valid" (400),
never a 5xx."""

import base64
import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from portal.dashboard.queries import SORTS
from portal.exams.models import AuditEvent
from tests.dashboard.conftest import exam

pytestmark = pytest.mark.hostile

# JSON values written as text, so what json.dumps would never write is there too.
scalars = st.sampled_from(
    [
        "1e999",
        "-1e999",
        "NaN",
        "Infinity",
        "-Infinity",
        "9" * 5000,
        str(2**63),
        str(-(2**63) - 1),
        "1.5",
        "-0",
        "0",
        "1",
        "true",
        "null",
        "{}",
        '""',
        '"\\u0000"',
        '"\\ud800"',
        '"a\\u0000b"',
        '"2026-01-01T00:00:00+00:00"',
        '"2026-01-01T00:00:00"',
        '"9999-12-31T23:59:59-23:59"',
        '"0001-01-01T00:00:00+23:59"',
        '"2026-13-45T99:99:99Z"',
        '"5b1fd1a0-1b8e-4f0c-9a59-1a7c0f3e9d11"',
        '"not a uuid"',
        '"' + "x" * 3000 + '"',
    ]
)
json_values = st.one_of(
    scalars,
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=30).map(json.dumps),
)
flat_lists = st.lists(json_values, max_size=4).map(lambda items: "[" + ",".join(items) + "]")
nested = st.builds(
    lambda depth, inner, closed: "[" * depth + inner + ("]" * depth if closed else ""),
    st.one_of(st.sampled_from([2, 999, 1000, 1500, 3000]), st.integers(1, 3000)),
    st.one_of(st.just(""), json_values),
    st.booleans(),
)
any_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
).map(json.dumps)
# Shaped like a real cursor (a time, then one or two keys), with hostile values in it.
times = st.sampled_from(['"2026-01-01T00:00:00+00:00"', '"2026-01-01T00:00:00.5-05:00"'])
shaped = st.builds(
    lambda first, rest: "[" + ",".join([first, *rest]) + "]",
    st.one_of(times, json_values),
    st.lists(json_values, min_size=1, max_size=2),
)
documents = st.one_of(flat_lists, any_json, st.text(max_size=100))


def b64(text: str) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


cursors = st.one_of(
    shaped.map(b64),
    nested.map(b64),
    documents.map(b64),
    st.text(max_size=200),
    st.text(alphabet="ABCDEFabcdef0123456789-_=+/", max_size=200),
    st.integers(min_value=1, max_value=100_000).map(lambda n: "W" * n),
)


@pytest.fixture
def pages(trio, northside):
    """A few exams and audit events, so a cursor has rows to seek through."""
    for i in range(3):
        made = exam(northside, trio[0], submitted=timezone.now() - timedelta(hours=i))
        AuditEvent.objects.create(
            institution=northside, user=trio[1], action="view_exam", object_id=str(made.pk)
        )


def query(direction, cursor, sort=None):
    params = f"{direction}={quote(cursor.encode('utf-8', 'surrogatepass'), safe='')}"
    return params + (f"&sort={sort}" if sort else "")


@given(
    cursor=cursors,
    direction=st.sampled_from(["after", "before"]),
    sort=st.one_of(st.none(), st.sampled_from(list(SORTS))),
)
def test_any_cursor_on_the_worklist_is_a_page_or_a_400(
    client, trio, pages, cursor, direction, sort
):
    client.force_login(trio[0])
    response = client.get(reverse("worklist") + "?" + query(direction, cursor, sort))
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "no longer valid" in response.content.decode()


@given(cursor=cursors, direction=st.sampled_from(["after", "before"]))
def test_any_cursor_on_the_audit_log_is_a_page_or_a_400(client, trio, pages, cursor, direction):
    client.force_login(trio[0])
    response = client.get(reverse("audit-log") + "?" + query(direction, cursor))
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "no longer valid" in response.content.decode()
