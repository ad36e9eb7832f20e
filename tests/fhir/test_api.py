"""GET /api/v1/exams/<id>/fhir: the exam as a FHIR R4 Bundle, through the exam API's
tenant, role and audit rules."""

import base64
import uuid
from datetime import datetime

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from integrations.fhir import bundle
from portal import storage
from portal.exams.models import AuditEvent, Exam
from portal.outbound import uids
from portal.reports.models import Findings
from portal.reports.review import add_addendum, attest_findings, sign_findings
from portal.text import storable
from tests.api.keyring import bearer, key_for
from tests.factories import add_stored_capture
from tests.reports.conftest import built, sign
from tests.reports.test_worksheet_review import draft, make_trainee


def url(exam):
    return reverse("exam-fhir", args=[exam.pk])


def resources(data, kind):
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


def one(data, kind):
    (found,) = resources(data, kind)
    return found


# viewer, (institution to switch to), exam, status
MATRIX = [
    ("alice", None, "north", 200),
    ("bob", None, "north", 200),
    ("charlie", None, "north", 404),
    ("alice", None, "charlie_south", 404),
    ("bob", None, "charlie_south", 404),
    ("charlie", None, "charlie_south", 200),
    ("charlie", None, "alice_south", 200),
    # alice is a clinician at Southside: her own exam only.
    ("alice", "southside", "alice_south", 200),
    ("alice", "southside", "charlie_south", 404),
    ("alice", "southside", "north", 404),
]


@pytest.mark.parametrize(("viewer", "institution", "owner", "status"), MATRIX)
def test_the_tenant_and_role_matrix(login, exams, viewer, institution, owner, status):
    client = login(viewer, institution)
    response = client.get(url(exams[owner]))
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "application/fhir+json"
        bundle.validate(response.json())
    else:
        assert AuditEvent.objects.filter(action=AuditEvent.Action.VIEW_EXAM).count() == 0


def test_an_api_key_reads_it_in_its_own_institution_only(client, exams, users):
    key = key_for(users["bob"], "northside", scope="read")
    response = client.get(url(exams["north"]), headers=bearer(key))
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.VIEW_EXAM)
    assert event.detail["via"] == "api_fhir" and "api_key" in event.detail
    assert client.get(url(exams["charlie_south"]), headers=bearer(key)).status_code == 404
    other = {**bearer(key), "X-Portal-Institution": "southside"}
    assert client.get(url(exams["charlie_south"]), headers=other).status_code == 403


def test_anonymous_is_refused(client, exams):
    response = client.get(url(exams["north"]))
    assert response.status_code == 401
    assert "Nora" not in response.content.decode()


def test_a_missing_exam_is_a_404_problem(login, exams):
    response = login("bob").get(reverse("exam-fhir", args=[999999]))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


def test_any_accept_header_gets_fhir_json(login, exams):
    client = login("bob")
    for accept in ["application/json", "text/html", "application/fhir+json", "*/*"]:
        response = client.get(url(exams["north"]), headers={"Accept": accept})
        assert response.status_code == 200
        assert response["Content-Type"] == "application/fhir+json"


def test_the_view_is_audited_as_a_view_of_the_exam(login, exams, users):
    exam = exams["north"]
    login("bob").get(url(exam))
    event = AuditEvent.objects.get(action=AuditEvent.Action.VIEW_EXAM)
    assert (event.user, event.institution, event.object_id) == (
        users["bob"],
        exam.institution,
        str(exam.pk),
    )
    assert event.detail == {"via": "api_fhir"}


def test_an_unsigned_exam_has_the_patient_and_the_study_only(login, exams):
    exam = exams["north"]
    data = login("bob").get(url(exam)).json()
    bundle.validate(data)
    assert data["type"] == "collection"
    assert [e["resource"]["resourceType"] for e in data["entry"]] == ["Patient", "ImagingStudy"]
    patient = one(data, "Patient")
    assert patient["identifier"][0]["value"] == f"MRN-{exam.pk}"
    assert patient["identifier"][0]["type"]["coding"][0]["code"] == "MR"
    assert patient["name"][0]["given"] == ["Nora"] and patient["name"][0]["family"] == "North"


def test_the_study_carries_the_dicom_uids(login, exams):
    exam = exams["north"]  # two PNG captures
    clip = add_stored_capture(exam, "video/mp4", b"\x00\x00\x00\x18ftypmp42")
    sign(exam, exam.operator)
    data = login("bob").get(url(exam)).json()
    bundle.validate(data)
    study = one(data, "ImagingStudy")
    assert study["identifier"][0] == {
        "system": "urn:dicom:uid",
        "value": f"urn:oid:{uids.study_uid(exam)}",
    }
    assert study["status"] == "available"
    assert study["modality"][0]["code"] == "US"
    series = {s["uid"]: s for s in study["series"]}
    images = series[uids.series_uid(exam, "image")]
    captures = [c for c in exam.captures.order_by("position") if c.is_image]
    assert [i["uid"] for i in images["instance"]] == [uids.capture_uid(exam, c) for c in captures]
    assert {i["sopClass"]["code"] for i in images["instance"]} == {
        "urn:oid:1.2.840.10008.5.1.4.1.1.6.1"
    }
    clips = series[uids.series_uid(exam, "clip")]
    assert clips["instance"] == [
        {
            "uid": uids.capture_uid(exam, clip),
            "sopClass": {
                "system": "urn:ietf:rfc:3986",
                "code": "urn:oid:1.2.840.10008.5.1.4.1.1.3.1",
            },
            "number": clip.position + 1,
        }
    ]
    report = series[uids.series_uid(exam, "report")]
    assert report["modality"]["code"] == "DOC"
    assert report["instance"][0]["uid"] == uids.report_uid(exam, 1)
    assert report["instance"][0]["sopClass"]["code"] == "urn:oid:1.2.840.10008.5.1.4.1.1.104.1"
    assert study["numberOfSeries"] == 3 and study["numberOfInstances"] == 4
    started = datetime.fromisoformat(study["started"])
    assert started.utcoffset() is not None
    assert started == exam.first_submitted_at.replace(microsecond=0)


def test_a_signed_exam_is_final_with_the_pdf_and_the_answers(login, exams):
    exam = exams["north"]
    report = sign(exam, exam.operator)
    exam.refresh_from_db()
    data = login("bob").get(url(exam)).json()
    bundle.validate(data)
    diagnostic = one(data, "DiagnosticReport")
    assert diagnostic["status"] == "final"
    assert diagnostic["conclusion"] == "Cholelithiasis without cholecystitis."
    assert diagnostic["imagingStudy"] == [{"reference": bundle.full_url(exam, "imaging-study")}]
    assert diagnostic["subject"] == {"reference": bundle.full_url(exam, "patient")}
    assert diagnostic["code"]["text"] == exam.exam_type.name
    assert diagnostic["resultsInterpreter"] == [{"display": "Bob Reviewer"}]
    (form,) = diagnostic["presentedForm"]
    assert form["contentType"] == "application/pdf"
    assert base64.b64decode(form["data"]) == storage.local_file(report.file).read_bytes()
    assert form["title"] == report.name
    # Every structured answer is an Observation the report lists.
    observations = resources(data, "Observation")
    findings = Findings.objects.get(exam=exam)
    assert {o["code"]["coding"][0]["code"] for o in observations} == set(findings.answers)
    assert {r["reference"] for r in diagnostic["result"]} == {
        e["fullUrl"] for e in data["entry"] if e["resource"]["resourceType"] == "Observation"
    }
    assert all(o["status"] == "final" for o in observations)
    for o in observations:
        value = findings.answers[o["code"]["coding"][0]["code"]]
        if isinstance(value, bool):
            assert o["valueBoolean"] is value
        elif isinstance(value, str):
            assert o["valueCodeableConcept"]["coding"][0]["code"] == value


def test_full_urls_are_stable_per_exam(login, exams, quick_pdf):
    exam = exams["north"]
    sign(exam, exam.operator)
    client = login("bob")
    first, second = client.get(url(exam)).json(), client.get(url(exam)).json()
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    for entry in first["entry"]:
        value = uuid.UUID(entry["fullUrl"].removeprefix("urn:uuid:"))
        assert value.version == 5
    other = client.get(url(exams["north"])).json()
    assert other["entry"][0]["fullUrl"] == bundle.full_url(exam, "patient")


def test_numbers_are_quantities_in_ucum(login, exams, users):
    from portal.reports.review import fill_worksheet, findings_of, save_findings
    from portal.worksheets.models import ExamType

    exam = exams["north"]
    exam_type = ExamType.objects.get(institution=exam.institution, code="aorta")
    findings = findings_of(exam)
    fill_worksheet(
        findings,
        exam_type=exam_type,
        answers={"iliac_diameter": 1.4},
        views={},
        key_images={},
    )
    findings.impression = "Normal."
    save_findings(findings, users["bob"])
    # The worksheet is not complete: shown as it stands through the builder directly.
    Findings.objects.filter(pk=findings.pk).update(signed_at=findings.updated_at)
    exam.refresh_from_db()
    (name, observation), *_ = bundle.observation_resources(
        exam, Findings.objects.get(pk=findings.pk), "final"
    )
    assert observation["valueQuantity"] == {
        "value": 1.4,
        "unit": "cm",
        "system": "http://unitsofmeasure.org",
        "code": "cm",
    }


def test_a_trainees_reading_is_preliminary_then_final(login, exams, users):
    exam = exams["north"]
    exam.institution.hold_trainee_reports = False
    exam.institution.save()
    make_trainee(users["bob"], exam.institution)
    built(sign_findings(draft(exam, users["bob"]), users["bob"]))
    client = login("alice")
    data = client.get(url(exam)).json()
    bundle.validate(data)
    assert one(data, "DiagnosticReport")["status"] == "preliminary"
    assert {o["status"] for o in resources(data, "Observation")} == {"preliminary"}
    built(attest_findings(Findings.objects.get(exam=exam), users["alice"]))
    data = client.get(url(exam)).json()
    diagnostic = one(data, "DiagnosticReport")
    assert diagnostic["status"] == "final"
    assert diagnostic["resultsInterpreter"] == [
        {"display": "Bob Reviewer"},
        {"display": "Alice Admin"},
    ]
    # Both versions are instances of the report series.
    study = one(data, "ImagingStudy")
    (reports,) = [s for s in study["series"] if s["modality"]["code"] == "DOC"]
    assert [i["uid"] for i in reports["instance"]] == [
        uids.report_uid(exam, 1),
        uids.report_uid(exam, 2),
    ]


def test_an_addendum_makes_it_amended(login, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    _, report = add_addendum(exam, users["bob"], "The duct was seen after all.")
    built(report)
    data = login("bob").get(url(exam)).json()
    bundle.validate(data)
    diagnostic = one(data, "DiagnosticReport")
    assert diagnostic["status"] == "amended"
    (form,) = diagnostic["presentedForm"]
    report.refresh_from_db()
    assert base64.b64decode(form["data"]) == storage.local_file(report.file).read_bytes()


def test_a_replacing_version_is_amended(exams, users, quick_pdf):
    exam = exams["north"]
    first = sign(exam, users["bob"])
    exam.refresh_from_db()
    assert bundle.report_status(exam, first) == "final"
    from portal.reports.issuing import issue_generated_report

    second = built(issue_generated_report(exam, users["bob"], "Replacement"))
    assert bundle.report_status(exam, second) == "amended"
    assert exam.review_state != Exam.ReviewState.PRELIMINARY


def test_a_report_whose_file_is_gone_has_no_presented_form(login, exams, users, quick_pdf):
    exam = exams["north"]
    report = sign(exam, users["bob"])
    storage.local_file(report.file).unlink()
    data = login("bob").get(url(exam)).json()
    bundle.validate(data)
    assert "presentedForm" not in one(data, "DiagnosticReport")


HOSTILE = [
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31mred\x7f\x85",
    "\u202eMRN 123",
    "\ud800",
    " ",
    "x" * 5000,
    "名前 ÄÖ |^~\\& <script>",
]


def store(exam, text):
    from portal.exams.models import Patient

    Findings.objects.filter(exam=exam).update(impression=f"Impression {text[:1000]}")
    Patient.objects.filter(exam=exam).update(
        identifier=text[:200],
        first_name=text[:200],
        middle_name=text[:200],
        last_name=text[:200],
        gender=text[:50],
        extra={"accession_number": text[:200], "referring_physician": text},
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_patient_data_never_breaks_it(login, exams, users, text, quick_pdf):
    exam = exams["north"]
    stored = text
    sign(exam, users["bob"])
    try:
        with transaction.atomic():
            store(exam, stored)
    except (DatabaseError, ValueError, UnicodeError):
        # What this database cannot hold (NUL on PostgreSQL, lone surrogates) never
        # reaches a column: ingestion stores it without them.
        store(exam, storable(stored))
    response = login("bob").get(url(exam))
    assert response.status_code == 200
    data = response.json()
    bundle.validate(data)
    patient = one(data, "Patient")
    shown = str(patient)
    assert "\x00" not in shown and "\u202e" not in shown and "\x1b" not in shown


@pytest.mark.parametrize(
    ("sent", "gender"),
    [
        ("M", "male"),
        ("Female", "female"),
        (" girl ", "female"),
        ("unknown", "unknown"),
        ("X", "other"),
        ("", None),
    ],
)
def test_gender_is_read_as_the_dicom_objects_read_it(exams, sent, gender):
    exam = exams["north"]
    exam.patient.gender = sent
    exam.patient.save()
    assert bundle.patient_resource(exam).get("gender") == gender


def test_a_reading_held_for_attestation_has_no_report_yet(login, exams, users):
    exam = exams["north"]
    assert exam.institution.hold_trainee_reports
    make_trainee(users["bob"], exam.institution)
    assert sign_findings(draft(exam, users["bob"]), users["bob"]) is None
    data = login("alice").get(url(exam)).json()
    bundle.validate(data)
    assert [e["resource"]["resourceType"] for e in data["entry"]] == ["Patient", "ImagingStudy"]
