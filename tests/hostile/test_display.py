"""Whatever names and patient fields are stored (unicode, controls, bidi, huge), the
worklist, the exam page and the API answer without a 5xx, without a bidi control
character, and the exam page stays small.

Rows are written directly, as another path (an old row, the admin, a script) could, not
through ingestion; only what the database cannot store at all is removed (on PostgreSQL
with ``storable``), and names are cut to their columns' lengths.
"""

import re

import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from portal.exams.models import Patient
from portal.text import storable
from tests.factories import make_exam
from tests.many_captures import add_captures, has_bidi

pytestmark = pytest.mark.hostile

# The exam page with every patient field and the unknown fields at their caps (20 fields
# of 1,260 characters, each escaped to up to 6 bytes), far below the megabytes it was.
EXAM_PAGE_BOUND = 250_000
SURROGATES = re.compile("[\ud800-\udfff]")
# Patient columns written directly, with their lengths.
NAMES = {
    "first_name": 200,
    "middle_name": 200,
    "last_name": 200,
    "identifier": 200,
    "animal_name": 200,
    "animal_type": 200,
    "owner_name": 200,
    "gender": 50,
    "date_of_birth_text": 50,
}

characters = st.one_of(
    st.characters(),
    st.sampled_from('\u202e\u202d\u2066\u2067\u2069\u200f\u061c\x00\n\r\t\x1b\x85\ufeff\ud800<&"'),
)
short_text = st.text(alphabet=characters, max_size=250)
huge_text = st.builds(
    lambda part, times: part * times,
    st.text(alphabet=characters, min_size=1, max_size=6),
    st.integers(min_value=1_000, max_value=20_000),
)
text = st.one_of(short_text, short_text, huge_text)
# Name columns hold 200 characters (more is cut before writing), so names stay short.
name = st.text(alphabet=characters, max_size=220)
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(short_text, inner, max_size=4)
    ),
    max_leaves=8,
)
patients = st.fixed_dictionaries(
    {field: name for field in NAMES},
    optional={
        "extra": st.one_of(
            st.dictionaries(short_text, json_value, max_size=30),
            st.dictionaries(st.text(max_size=8), st.just("v"), min_size=25, max_size=60),
        ),
        "operator": name,
    },
)


@pytest.fixture
def hostile_exam(trio, northside, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    exam = make_exam(northside, trio[1], captures=0)
    add_captures(exam, 60)
    return exam


def writable(value):
    """``value`` as this database can store it: PostgreSQL refuses NUL and lone
    surrogates; SQLite keeps NUL (so the pages' own cleaning is tested with it) and its
    driver refuses lone surrogates in text columns (JSON escapes them)."""
    if connection.vendor == "postgresql":
        return storable(value)
    return SURROGATES.sub("", value) if isinstance(value, str) else value


def store(exam, fields):
    operator = exam.operator
    operator.full_name = writable(fields.pop("operator", "Bob Reviewer"))[:150]
    operator.save(update_fields=["full_name"])
    row = {name: writable(fields[name])[:length] for name, length in NAMES.items()}
    row["extra"] = writable(fields.get("extra", {}))
    Patient.objects.filter(exam=exam).update(**row)


@pytest.fixture
def admin_client(client, trio):
    client.force_login(trio[0])
    return client


@given(fields=patients)
def test_pages_and_the_api_show_any_stored_names_safely(admin_client, hostile_exam, fields):
    store(hostile_exam, fields)
    exam_page = reverse("exam-detail", args=[hostile_exam.pk])
    urls = [
        reverse("worklist"),
        exam_page,
        reverse("api-exam-detail", args=[hostile_exam.pk]),
        reverse("api-exam-list"),
        reverse("api-exam-captures", args=[hostile_exam.pk]),
    ]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert not has_bidi(body), url
        assert "\x00" not in body and "\\u0000" not in body, url
        if url == exam_page:
            assert len(response.content) < EXAM_PAGE_BOUND
