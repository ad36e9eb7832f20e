"""Whatever exam document Clarius answers, the fetch task either stores the exam, cleaned,
or records why not on the receipt (retried by the one policy): never an exception, never
a half-written exam, never a failure of the portal's own making.

The document goes through the real client (``ServiceClient.get_exam_data``: the origin
guard, the bounded strict JSON parser, the typed parse) and the real task; only the HTTP
answer is made up. Documents: arbitrary bytes, JSON nested to any depth, keys sent twice,
NUL, lone surrogates (escaped, and raw as invalid UTF-8), controls and bidi overrides,
huge values, numbers no column can hold, and fields of the wrong type.
"""

import json
import uuid

import pytest
import requests
from django.utils import timezone
from hypothesis import event, given
from hypothesis import strategies as st

from integrations.clarius import clients, tasks
from integrations.clarius.api.client import parse_document
from integrations.clarius.ingestion.ingest import (
    EXTRA_KEY_LENGTH,
    EXTRA_MAX_FIELDS,
    EXTRA_VALUE_LENGTH,
    MORE_FIELDS_KEY,
    PATIENT_FIELDS,
)
from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.exams.models import Capture, Exam, Patient, Submission
from portal.safejson import RefusedJSON
from portal.text import clean_text, storable

pytestmark = pytest.mark.hostile

API = "https://cloud.clarius.com/api/public/v0/"
MEDIA = "https://bucket.s3.amazonaws.com/captures/"
TOKEN = "eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY"

characters = st.one_of(
    st.characters(blacklist_categories=()),  # surrogates included
    st.sampled_from('\x00\x1b\x7f\x85\u202e\u2066\u200f\ufeff\ud800\udfff\n\t"\\[]{}'),
)
short_text = st.text(alphabet=characters, max_size=30)
huge_text = st.builds(
    lambda part, times: part * times,
    st.text(alphabet=characters, min_size=1, max_size=4),
    st.integers(min_value=200, max_value=30_000),
)
text = st.one_of(short_text, short_text, huge_text)
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
json_value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(short_text, inner, max_size=3)
    ),
    max_leaves=8,
)
KNOWN = [*PATIENT_FIELDS, "date_of_birth"]


@st.composite
def patients(draw):
    patient = {}
    for name in draw(st.lists(st.sampled_from(KNOWN), max_size=len(KNOWN), unique=True)):
        patient[name] = draw(st.one_of(text, text, json_value))
    if draw(st.booleans()):
        dates = st.sampled_from(["1970-01-02", "0001-01-01", "9999-12-31", "02/01/1970"])
        patient["date_of_birth"] = draw(st.one_of(dates, json_value))
    extra_count = draw(st.sampled_from([0, 2, 5, EXTRA_MAX_FIELDS + 10]))
    for i in range(extra_count):
        key = draw(st.one_of(short_text, st.just("k" * 300))) if i < 5 else f"field{i}"
        patient[key] = draw(json_value)
    return patient


@st.composite
def documents(draw):
    document = {}
    if draw(st.booleans()):
        document["request_uuid"] = draw(st.one_of(st.uuids().map(str), json_value))
    document["patient"] = draw(st.one_of(patients(), patients(), st.none(), json_value))
    captures = st.lists(
        st.one_of(
            short_text.map(lambda t: {"url": MEDIA + t}),
            short_text.map(lambda t: {"url": MEDIA + "a.png", t: t}),
            json_value,
        ),
        max_size=4,
    )
    document["captures"] = draw(st.one_of(captures, captures, json_value))
    document.update(draw(st.dictionaries(short_text, json_value, max_size=3)))
    return document


def encoded(document, draw):
    """JSON text: escaped, or raw UTF-8 (raw surrogates make it invalid UTF-8)."""
    if draw(st.booleans()):
        return json.dumps(document).encode()
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def document_bodies(draw):
    return encoded(draw(documents()), draw)


@st.composite
def with_a_repeated_key(draw):
    """A document whose patient repeats a key, with the same or another value."""
    body = json.dumps({"captures": [], "patient": draw(patients())})
    key = draw(st.sampled_from(KNOWN))
    value = draw(st.one_of(st.just("MRN-1"), json_value))
    twice = f'"patient": {{{json.dumps(key)}: "MRN-1", {json.dumps(key)}: {json.dumps(value)}, '
    return body.replace('"patient": {', twice, 1).replace(", }", "}").encode()


@st.composite
def with_a_number(draw):
    body = json.dumps({"captures": [], "patient": {"identifier": "MRN-1", "weight": "@@"}})
    number = draw(st.sampled_from(["1" * 5000, "1e999", "-1e999", "NaN", "Infinity", "1E400"]))
    return body.replace('"@@"', number).encode()


@st.composite
def nested(draw):
    depth = draw(st.integers(min_value=1, max_value=5000))
    return ('{"captures": [], "patient": {"x": ' + "[" * depth + "]" * depth + "}}").encode()


bodies = st.one_of(
    document_bodies(),
    document_bodies(),
    document_bodies(),
    with_a_repeated_key(),
    with_a_number(),
    nested(),
    st.binary(max_size=200),
)


@pytest.fixture
def exam_answer(db, settings, monkeypatch, bob, northside):
    """Makes the fetch task's Clarius answer its exam data with the body given."""
    settings.CLARIUS_API_URL = API
    link = ClariusLink.objects.create(
        token=TOKEN, user=bob, institution=northside, state=ClariusLink.State.CONFIRMED
    )
    answer = {}
    real_service_client = clients.service_client

    def client():
        service = real_service_client(api_key="Q4nmtzH5.test-key-of-the-portal")
        response = requests.Response()
        response.status_code = 200
        response._content = answer["body"]
        response.headers["Content-Type"] = "application/json"
        service.transport.api = lambda method, url, **kwargs: response
        return service

    monkeypatch.setattr(clients, "service_client", client)
    return link, answer


def due_receipt(link):
    request_uuid = uuid.uuid4()
    return NotificationReceipt.objects.create(
        request_uuid=request_uuid,
        exam_uuid=uuid.uuid4(),
        customer_id=link.token,
        download_url=f"{API}exams/download-requests/{request_uuid}/data/",
        submitted_at=timezone.now(),
        link=link,
        state=NotificationReceipt.State.PENDING,
        next_attempt_at=timezone.now(),
    )


def assert_clean_patient(patient: Patient):
    for name in [*PATIENT_FIELDS, "date_of_birth_text"]:
        value = getattr(patient, name)
        length = Patient._meta.get_field(name).max_length
        assert clean_text(value, max_length=length) == value, name
    assert len(patient.extra) <= EXTRA_MAX_FIELDS + 1
    for key, value in patient.extra.items():
        assert len(key) <= EXTRA_KEY_LENGTH and clean_text(key) == key
        if isinstance(value, str) and key != MORE_FIELDS_KEY:
            assert len(value) <= EXTRA_VALUE_LENGTH and clean_text(value) == value


def assert_nothing_half_written():
    assert not Capture.objects.exclude(exam_id=models_f("submission__exam_id")).exists()
    assert not Exam.objects.filter(submissions__isnull=True).exists()


def models_f(name):
    from django.db.models import F

    return F(name)


@given(body=bodies)
def test_any_exam_document_is_stored_cleaned_or_its_failure_recorded(exam_answer, body):
    link, answer = exam_answer
    answer["body"] = body
    receipt = due_receipt(link)
    outcome = tasks.fetch_receipt(receipt.pk)  # never raises
    receipt.refresh_from_db()
    event(outcome)
    assert_nothing_half_written()
    submission = Submission.objects.filter(request_uuid=receipt.request_uuid).first()
    if outcome == "fetched":
        assert receipt.state == NotificationReceipt.State.FETCHED and not receipt.last_error
        exam = Exam.objects.get(institution=link.institution, exam_uuid=receipt.exam_uuid)
        assert submission is not None and submission.exam == exam
        document = parse_document(body)
        assert submission.raw_document.keys() == storable(document).keys()
        captures = document.get("captures")
        assert exam.captures.count() == (len(captures) if isinstance(captures, list) else 0)
        for url in exam.captures.values_list("source_url", flat=True):
            assert clean_text(url) == url
        if isinstance(document.get("patient"), dict):
            assert_clean_patient(exam.patient)
    else:
        assert outcome == "retry" and receipt.state == NotificationReceipt.State.PENDING
        assert receipt.next_attempt_at is not None and receipt.claimed_until is None
        # Only what Clarius sent can fail a fetch: never the portal's own storing of it.
        assert receipt.last_error and "could not store" not in receipt.last_error
        assert clean_text(receipt.last_error, multiline=True) == receipt.last_error
        assert submission is None
        assert not Exam.objects.filter(exam_uuid=receipt.exam_uuid).exists()
        try:
            parse_document(body)
        except RefusedJSON as e:
            assert str(e) in receipt.last_error


@given(body=with_a_repeated_key())
def test_a_repeated_key_is_stored_only_when_its_values_agree(exam_answer, body):
    link, answer = exam_answer
    answer["body"] = body
    receipt = due_receipt(link)
    outcome = tasks.fetch_receipt(receipt.pk)
    receipt.refresh_from_db()
    try:
        json.loads(body, object_pairs_hook=refuse_conflicts)
    except ValueError:
        assert outcome == "retry" and "with different values" in receipt.last_error
    else:
        assert outcome == "fetched"
        assert Exam.objects.get(exam_uuid=receipt.exam_uuid).patient


def refuse_conflicts(pairs):
    result = {}
    for key, value in pairs:
        if key in result and result[key] != value:
            raise ValueError(key)
        result[key] = value
    return result
