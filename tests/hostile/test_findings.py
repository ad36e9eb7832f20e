"""Whatever text reaches the findings worksheet, an addendum or the report API's name, the
answer is a redirect, a 201 or a 4xx, never a 5xx, and nothing is half-written: a
refused request changes no row, an accepted one stores text PostgreSQL can hold (no NUL,
no lone surrogate, no control or bidi character) and, when it signs, exactly one report
version *generating*, its PDF left to the worker.

Bodies are encoded by hand so they can carry what a browser never sends: NUL, lone
surrogates (as raw invalid UTF-8), every control character, and sizes from nothing to
2 MB and 100,000 lines.
"""

import json
from urllib.parse import quote_from_bytes

import pytest
from django.urls import reverse
from hypothesis import event, given
from hypothesis import strategies as st

from portal.reports.limits import FINDINGS_LIMITS, LINE_LIMIT
from portal.reports.models import Addendum, Findings, Report
from portal.text import has_unstorable
from tests.factories import make_exam
from tests.reports.conftest import FINDINGS, sign

pytestmark = pytest.mark.hostile

FORM = "application/x-www-form-urlencoded"
characters = st.one_of(
    st.characters(blacklist_categories=()),  # surrogates included
    st.sampled_from("\x00\x01\x1b\x7f\x85\u202e\u2066\u200f\ufeff\ud800\udfff\r\n\t &=%+"),
)
short_text = st.text(alphabet=characters, max_size=60)


@st.composite
def field_text(draw):
    """Short hostile text, or a run of one piece at a size around a limit or far beyond."""
    if draw(st.booleans()):
        return draw(short_text)
    piece = draw(st.sampled_from(["a", "\n", "x\n", "é ", "\x00", "\u202e", "\ud800", "<&>"]))
    count = draw(
        st.sampled_from([0, 1, LINE_LIMIT + 1, 4_000, 10_001, 40_001, 100_000, 2 * 1024 * 1024])
    )
    return piece * (count // len(piece) or count)


def form_body(data: dict) -> bytes:
    """``application/x-www-form-urlencoded``, surrogates sent as the raw bytes they would be."""
    return b"&".join(
        quote_from_bytes(str(k).encode()).encode()
        + b"="
        + quote_from_bytes(str(v).encode("utf-8", "surrogatepass")).encode()
        for k, v in data.items()
    )


def worksheet_row(exam):
    return list(Findings.objects.filter(exam=exam).values())


def assert_storable(findings):
    for name in FINDINGS_LIMITS:
        value = getattr(findings, name)
        assert not has_unstorable(value), (name, value[:80])
        assert "\u202e" not in value and "\x1b" not in value and "\r" not in value
        assert len(value) <= FINDINGS_LIMITS[name]


@pytest.fixture
def reviewer(client, bob, northside):
    client.force_login(bob)
    return client


@given(field=st.sampled_from(sorted(FINDINGS_LIMITS)), text=field_text(), sign_it=st.booleans())
def test_any_worksheet_text_is_saved_signed_or_refused_never_a_5xx(
    reviewer, northside, bob, field, text, sign_it
):
    exam = make_exam(northside, bob, captures=0)
    action = "exam-sign" if sign_it else "exam-findings"
    body = form_body({**FINDINGS, field: text})
    response = reviewer.post(reverse(action, args=[exam.pk]), body, content_type=FORM)
    event(f"{action} → {response.status_code}")
    assert response.status_code in (302, 400)
    reports = Report.objects.filter(exam=exam)
    if response.status_code == 400:
        assert worksheet_row(exam) == [] and not reports.exists()
        return
    findings = Findings.objects.filter(exam=exam).first()
    if findings is None:  # signing refused (no impression): nothing kept, said on the page
        assert sign_it and not reports.exists()
        return
    assert_storable(findings)
    if sign_it and findings.is_signed:
        [report] = reports
        assert (report.state, report.has_pdf) == ("generating", False)
    else:
        assert not reports.exists()


@given(text=field_text())
def test_any_addendum_is_added_or_refused_never_a_5xx(reviewer, northside, bob, text):
    exam = make_exam(northside, bob, captures=0)
    sign(exam, bob, build=False)
    body = form_body({"text": text})
    response = reviewer.post(reverse("exam-addendum", args=[exam.pk]), body, content_type=FORM)
    event(f"addendum → {response.status_code}")
    assert response.status_code in (302, 400)
    addenda = Addendum.objects.filter(exam=exam)
    versions = Report.objects.filter(exam=exam).count()
    if response.status_code == 400 or not addenda.exists():
        assert not addenda.exists() and versions == 1
        return
    [addendum] = addenda
    assert not has_unstorable(addendum.text) and "\u202e" not in addendum.text
    assert versions == 2


names = st.one_of(
    short_text,
    field_text(),
    st.integers(),
    st.lists(short_text, max_size=2),
    st.dictionaries(short_text, short_text, max_size=2),
    st.none(),
)


@given(name=names, as_json=st.booleans())
def test_any_report_name_gives_a_version_or_a_4xx_never_a_5xx(
    reviewer, northside, bob, name, as_json
):
    exam = make_exam(northside, bob, captures=0)
    sign(exam, bob, build=False)
    url = reverse("api-exam-reports", args=[exam.pk])
    if as_json:
        body = json.dumps({"name": name}, ensure_ascii=False).encode("utf-8", "surrogatepass")
        response = reviewer.post(url, body, content_type="application/json")
    else:
        response = reviewer.post(url, form_body({"name": name}), content_type=FORM)
    event(f"json={as_json} → {response.status_code}")
    assert response.status_code in (201, 400, 413), response.content[:300]
    versions = Report.objects.filter(exam=exam).order_by("version")
    if response.status_code != 201:
        assert versions.count() == 1
        return
    newest = versions.last()
    assert newest.version == 2 and newest.state == "generating"
    assert newest.name and len(newest.name) <= 200 and not has_unstorable(newest.name)
