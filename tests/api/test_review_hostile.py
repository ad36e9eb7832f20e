"""Whatever JSON reaches the findings, sign and addenda endpoints, the answer is a 2xx or
a 4xx, never a 5xx, and a refused write changes nothing; what is kept is storable text
(the same property as tests/hostile/test_findings.py for the page's form)."""

import json

import pytest
from django.urls import reverse
from hypothesis import event, given
from hypothesis import strategies as st

from portal.reports.limits import FINDINGS_LIMITS
from portal.reports.models import Addendum, Findings, Report
from portal.reports.review import findings_version
from tests.factories import make_exam
from tests.hostile.test_findings import assert_storable, field_text, short_text
from tests.reports.conftest import FINDINGS, sign

pytestmark = pytest.mark.hostile

values = st.one_of(
    field_text(),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.lists(short_text, max_size=2),
    st.dictionaries(short_text, short_text, max_size=2),
)
FIELDS = sorted(
    [*FINDINGS_LIMITS, "image_quality", "surprise", "exam_type", "answers", "views", "key_images"]
)
LUNG_CODES = ["right_sliding", "right_lung_point", "indications", "right_anterior", "x"]
# Nested values: lists and objects inside answers, views and key images.
nested = st.recursive(
    values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_text, inner),
    max_leaves=8,
)


def encoded(data) -> bytes:
    """JSON, lone surrogates sent as the invalid UTF-8 bytes they would be."""
    return json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")


@pytest.fixture
def reviewer(client, bob, northside):
    client.force_login(bob)
    return client


@given(field=st.sampled_from(FIELDS), value=values, sign_it=st.booleans())
def test_any_worksheet_json_is_saved_or_refused_never_a_5xx(
    reviewer, northside, bob, field, value, sign_it
):
    exam = make_exam(northside, bob, captures=0)
    body = {**FINDINGS, "image_quality": 3, field: value}
    response = reviewer.put(
        reverse("api-exam-findings", args=[exam.pk]),
        encoded(body),
        content_type="application/json",
        headers={"If-Match": f'"{findings_version(None)}"'},
    )
    event(f"put → {response.status_code}")
    assert response.status_code in (200, 400, 413)
    if response.status_code != 200:
        assert not Findings.objects.filter(exam=exam).exists()
        return
    findings = Findings.objects.get(exam=exam)
    assert_storable(findings)
    if sign_it:
        signed = reviewer.post(reverse("api-exam-sign", args=[exam.pk]))
        event(f"sign → {signed.status_code}")
        assert signed.status_code in (201, 400)
        assert Report.objects.filter(exam=exam).count() == (signed.status_code == 201)


@given(value=values)
def test_any_addendum_json_is_added_or_refused_never_a_5xx(reviewer, northside, bob, value):
    exam = make_exam(northside, bob, captures=0)
    sign(exam, bob, build=False)
    response = reviewer.post(
        reverse("api-exam-addenda", args=[exam.pk]),
        encoded({"text": value}),
        content_type="application/json",
    )
    event(f"addendum → {response.status_code}")
    assert response.status_code in (201, 400, 413)
    addenda = Addendum.objects.filter(exam=exam)
    assert addenda.count() == (response.status_code == 201)
    assert Report.objects.filter(exam=exam).count() == 1 + (response.status_code == 201)


@given(
    part=st.sampled_from(["answers", "views", "key_images"]),
    code=st.sampled_from(LUNG_CODES) | short_text,
    value=nested,
)
def test_any_structured_answer_is_saved_or_refused_never_a_5xx(
    reviewer, northside, bob, part, code, value
):
    exam = make_exam(northside, bob, captures=1)
    if part == "key_images" and code == "x":
        code = str(exam.captures.get().pk)
    body = {**FINDINGS, "image_quality": 3, "exam_type": "lung", part: {code: value}}
    response = reviewer.put(
        reverse("api-exam-findings", args=[exam.pk]),
        encoded(body),
        content_type="application/json",
        headers={"If-Match": f'"{findings_version(None)}"'},
    )
    event(f"{part} → {response.status_code}")
    assert response.status_code in (200, 400, 413)
    if response.status_code != 200:
        assert not Findings.objects.filter(exam=exam).exists()
        return
    assert_storable(Findings.objects.get(exam=exam))


@given(
    field=st.sampled_from(["name", "clarius_applications", "cpt_codes", "is_active", "definition"]),
    value=nested,
    section=nested,
)
def test_any_exam_type_write_is_saved_or_refused_never_a_5xx(
    client, alice, northside, field, value, section
):
    from portal.worksheets.models import ExamType, WorksheetTemplate

    client.force_login(alice)  # Northside's administrator
    body = {field: value}
    if field == "definition":
        body = {"definition": {"sections": [section], "views": value}}
    versions = WorksheetTemplate.objects.count()
    response = client.put(
        reverse("api-exam-type-detail", args=["lung"]),
        encoded(body),
        content_type="application/json",
    )
    event(f"{field} → {response.status_code}")
    assert response.status_code in (200, 400, 413)
    if response.status_code != 200:
        assert WorksheetTemplate.objects.count() == versions
        return
    lung = ExamType.objects.get(institution=northside, code="lung")
    assert client.get(reverse("api-exam-type-detail", args=["lung"])).status_code == 200
    assert lung.name.strip()
