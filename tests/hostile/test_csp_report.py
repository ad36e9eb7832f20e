"""Whatever is posted to the CSP report endpoint (anyone can post there), the answer is a
204 for a report and a 4xx for anything else, never a 5xx, and what is logged is one
line of bounded length without control or bidi characters."""

import json
import logging

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.hostile

characters = st.one_of(
    st.characters(),
    st.sampled_from("\u202e\u2066\x00\n\r\t\x1b\x85\ufeff\ud800<&\"'"),
)
text = st.text(alphabet=characters, max_size=400)
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=10,
)
FIELDS = [
    "document-uri",
    "violated-directive",
    "effective-directive",
    "blocked-uri",
    "source-file",
    "line-number",
    "script-sample",
    "documentURL",
    "effectiveDirective",
    "blockedURL",
    "sample",
]
report_like = st.one_of(
    st.builds(lambda r: {"csp-report": r}, st.dictionaries(st.sampled_from(FIELDS), json_value)),
    st.lists(
        st.builds(
            lambda b: {"type": "csp-violation", "body": b},
            st.dictionaries(st.sampled_from(FIELDS), json_value),
        ),
        max_size=5,
    ),
    json_value,
)
bodies = st.one_of(
    st.builds(lambda v: json.dumps(v).encode(), report_like),
    st.binary(max_size=2000),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(min_value=900, max_value=8000)),
)
content_types = st.sampled_from(
    ["application/csp-report", "application/reports+json", "application/json", "text/plain"]
)


@given(body=bodies, content_type=content_types)
def test_the_report_endpoint_never_fails_whatever_is_posted(db, caplog, body, content_type):
    cache.clear()
    caplog.clear()
    client = Client(enforce_csrf_checks=True)
    with caplog.at_level(logging.WARNING, logger="portal.csp"):
        response = client.post(reverse("csp-report"), body, content_type=content_type)
    assert response.status_code in (204, 400, 413, 415)
    for record in caplog.records:
        message = record.getMessage()
        assert len(message) < 2500
        assert not any(c in message for c in "\x00\n\r\x1b\u202e\u2066\ud800")
