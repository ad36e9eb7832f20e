"""Whatever text an exam document from Clarius carries, the exam is stored (cleaned) or the
failure is recorded on its receipt: never an exception that drops the exam.

These run over real HTTP against the sandbox, on SQLite and PostgreSQL alike; PostgreSQL
is where NUL bytes and lone surrogates used to fail (text and jsonb refuse them).
"""

import json

import pytest

from integrations.clarius import tasks
from integrations.clarius.models import NotificationReceipt
from portal.exams.models import Capture, Exam, Patient, Submission
from tests.clarius.flow import deliver, link_confirmed


@pytest.fixture
def clinician(clarius_settings, clarius_sandbox, bob, northside):
    sandbox_user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link_confirmed(sandbox_user, bob, northside)
    return sandbox_user


def fetched(request):
    """Deliver ``request``'s notification and run its fetch once; the receipt after it."""
    assert deliver(request).status_code == 202
    receipt = NotificationReceipt.objects.get(request_uuid=request.request_uuid)
    tasks.fetch_receipt(receipt.pk)
    receipt.refresh_from_db()
    return receipt


def upload(sandbox, user, patient):
    return sandbox.upload_exam(user, captures=1, videos=0, notify=False, patient=patient)


def serve_document(sandbox, request, text):
    """The next fetch of ``request``'s exam data answers ``text`` (a JSON document)."""
    sandbox.inject(f"download-requests/{request.request_uuid}/", "GET", status=200, body=text)


def test_a_nul_in_a_patient_identifier_is_removed_and_the_exam_stored(clarius_sandbox, clinician):
    request = upload(clarius_sandbox, clinician, {"identifier": "MRN\x00123", "ward": "B\x004"})
    receipt = fetched(request)
    assert receipt.state == "fetched", receipt.last_error
    patient = Exam.objects.get().patient
    assert patient.identifier == "MRN123"
    assert patient.extra["ward"] == "B4"


def test_a_lone_surrogate_and_controls_in_names_are_removed(clarius_sandbox, clinician):
    request = upload(
        clarius_sandbox,
        clinician,
        {"first_name": "Ada\ud800", "last_name": "\u202eecalevoL\u202c", "gender": "f\x1b[31m"},
    )
    assert fetched(request).state == "fetched"
    patient = Exam.objects.get().patient
    assert patient.first_name == "Ada"
    assert patient.last_name == "ecalevoL"
    assert patient.gender == "f[31m"


def test_each_patient_field_is_cut_to_its_column(clarius_sandbox, clinician):
    request = upload(clarius_sandbox, clinician, {"gender": "x" * 80, "identifier": "7" * 300})
    assert fetched(request).state == "fetched"
    patient = Exam.objects.get().patient
    assert len(patient.gender) == Patient._meta.get_field("gender").max_length
    assert len(patient.identifier) == 200 and patient.identifier.endswith("…")


@pytest.mark.parametrize(
    ("sent", "shown"),
    [("02/01/1970\x00", "02/01/1970"), (19700102, "19700102"), ({"y": 1970}, '{"y": 1970}')],
)
def test_a_date_of_birth_that_is_not_a_date_is_kept_as_text(
    clarius_sandbox, clinician, sent, shown
):
    request = upload(clarius_sandbox, clinician, {"date_of_birth": sent})
    assert fetched(request).state == "fetched"
    patient = Exam.objects.get().patient
    assert (patient.date_of_birth, patient.date_of_birth_text) == (None, shown)


def test_an_unknown_field_is_capped_but_kept_whole_in_the_raw_document(clarius_sandbox, clinician):
    huge = "W" * 100_000
    request = upload(clarius_sandbox, clinician, {"identifier": "MRN-1", "notes": huge})
    assert fetched(request).state == "fetched"
    exam = Exam.objects.get()
    assert len(exam.patient.extra["notes"]) <= 500
    submission = Submission.objects.get(exam=exam)
    assert submission.raw_document["patient"]["notes"] == huge


def test_unknown_fields_are_capped_in_number_and_key_length(clarius_sandbox, clinician):
    sent = {"k" * 1000: "long key", **{f"field{i:03d}": i for i in range(200)}}
    request = upload(clarius_sandbox, clinician, sent)
    assert fetched(request).state == "fetched"
    extra = Exam.objects.get().patient.extra
    assert len(extra) == 51
    assert extra["k" * 99 + "…"] == "long key"
    assert extra["…"] == "151 more field(s) in the exam's raw document"
    assert len(Submission.objects.get().raw_document["patient"]) == 201


def test_structured_and_huge_unknown_values_become_short_text(clarius_sandbox, clinician):
    request = upload(clarius_sandbox, clinician, {"identifier": "MRN-1"})
    document = (
        '{"captures": [], "patient": {"identifier": "MRN-1",'
        ' "nested": {"deep": [1, 2, {"x": "\\u0000y"}]}, "big": ' + "9" * 5000 + ","
        ' "inf": 1e999, "flag": true, "\\u0000key": "v"}}'
    )
    serve_document(clarius_sandbox, request, document)
    receipt = fetched(request)
    assert receipt.state == "fetched", receipt.last_error
    extra = Exam.objects.get().patient.extra
    assert extra["nested"] == '{"deep": [1, 2, {"x": "y"}]}'
    assert len(extra["big"]) <= 500 and extra["big"].startswith("999")
    assert extra["inf"] == "1e999"
    assert extra["flag"] is True
    assert extra["key"] == "v"
    raw = Submission.objects.get().raw_document["patient"]
    assert raw["big"] == "9" * 5000 and raw["nested"]["deep"][2] == {"x": "y"}


def test_conflicting_duplicate_keys_are_recorded_not_guessed(clarius_sandbox, clinician):
    request = upload(clarius_sandbox, clinician, {"identifier": "MRN-1"})
    document = '{"captures": [], "patient": {"identifier": "MRN-1", "identifier": "MRN-2"}}'
    serve_document(clarius_sandbox, request, document)
    receipt = fetched(request)
    assert receipt.state == "pending" and receipt.next_attempt_at is not None
    assert "repeats the key 'identifier' with different values" in receipt.last_error
    assert not Exam.objects.exists()


def test_a_key_repeated_with_the_same_value_is_not_ambiguous(clarius_sandbox, clinician):
    request = upload(clarius_sandbox, clinician, {"identifier": "MRN-1"})
    document = '{"captures": [], "patient": {"identifier": "MRN-1", "identifier": "MRN-1"}}'
    serve_document(clarius_sandbox, request, document)
    assert fetched(request).state == "fetched"
    assert Exam.objects.get().patient.identifier == "MRN-1"


def test_a_deeply_nested_document_is_recorded_as_a_failure(clarius_sandbox, clinician):
    request = upload(clarius_sandbox, clinician, {"identifier": "MRN-1"})
    document = '{"captures": [], "patient": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"
    serve_document(clarius_sandbox, request, document)
    receipt = fetched(request)
    assert receipt.state == "pending" and "nested deeper than" in receipt.last_error
    assert not Exam.objects.exists()


def test_an_unexpected_error_is_recorded_on_the_receipt_and_retried(
    clarius_sandbox, clinician, monkeypatch
):
    def broken(receipt, data):
        raise RuntimeError("disk on fire \x00")

    monkeypatch.setattr(tasks, "ingest_exam_data", broken)
    receipt = fetched(upload(clarius_sandbox, clinician, {"identifier": "MRN-1"}))
    assert receipt.state == "pending"
    assert receipt.next_attempt_at is not None and receipt.claimed_until is None
    assert "RuntimeError: disk on fire" in receipt.last_error
    assert "\x00" not in receipt.last_error


def test_an_error_midway_leaves_no_half_written_exam(clarius_sandbox, clinician, monkeypatch):
    from integrations.clarius.ingestion import ingest

    def broken(exam, submission, links):
        raise RuntimeError("after the exam, before its captures")

    monkeypatch.setattr(ingest, "refresh_captures", broken)
    receipt = fetched(upload(clarius_sandbox, clinician, {"identifier": "MRN-1"}))
    assert "after the exam" in receipt.last_error
    assert (Exam.objects.count(), Submission.objects.count(), Capture.objects.count()) == (0, 0, 0)
    assert not Patient.objects.exists()


def test_after_its_last_attempt_the_receipt_is_failed_and_visible(
    clarius_sandbox, clinician, monkeypatch
):
    from portal import work

    monkeypatch.setattr(tasks, "ingest_exam_data", lambda r, d: 1 / 0)
    request = upload(clarius_sandbox, clinician, {"identifier": "MRN-1"})
    assert deliver(request).status_code == 202
    receipt = NotificationReceipt.objects.get()
    NotificationReceipt.objects.filter(pk=receipt.pk).update(attempts=work.MAX_ATTEMPTS - 1)
    assert tasks.fetch_receipt(receipt.pk) == "failed"
    receipt.refresh_from_db()
    assert receipt.state == "failed" and "ZeroDivisionError" in receipt.last_error


def test_an_error_body_with_a_nul_is_recorded(clarius_sandbox, clinician):
    request = upload(clarius_sandbox, clinician, {"identifier": "MRN-1"})
    clarius_sandbox.inject(
        f"download-requests/{request.request_uuid}/", "GET", status=404, body="gone\x00away"
    )
    receipt = fetched(request)
    assert receipt.state == "failed" and "goneaway" in receipt.last_error


def test_a_capture_link_with_a_lone_surrogate_is_stored_cleaned(clarius_sandbox, clinician):
    request = upload(clarius_sandbox, clinician, {"identifier": "MRN-1"})
    document = json.dumps(
        {"captures": [{"url": "https://media.example/a\ud800b"}], "patient": None}
    )
    serve_document(clarius_sandbox, request, document)
    assert fetched(request).state == "fetched"
    assert Capture.objects.get().source_url == "https://media.example/ab"


def test_the_admin_shows_the_raw_document_whole_and_escaped(clarius_sandbox, clinician, client):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    request = upload(clarius_sandbox, clinician, {"notes": "\u202e" + "W" * 5000})
    assert fetched(request).state == "fetched"
    client.force_login(get_user_model().objects.create_superuser(email="root@example.org"))
    submission = Submission.objects.get()
    page = client.get(reverse("admin:exams_submission_change", args=[submission.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "\\u202e" + "W" * 5000 in html and "\u202e" not in html
