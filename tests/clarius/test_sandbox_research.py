"""Sandbox §10: raw data and DICOM export through the Research API."""

import io
import json
import tarfile

import pydicom
import pytest
import requests
from pydicom.uid import UltrasoundImageStorage

UNKNOWN_EXAM = "6b0f6a4e-0000-4000-8000-000000000000"


@pytest.fixture
def exam(clarius_sandbox):
    user = clarius_sandbox.add_user("Ann", research_bundle=True)
    return clarius_sandbox.upload_exam(user, captures=2, videos=1, notify=False, patient=PATIENT)


PATIENT = {
    "identifier": "MRN-00042",
    "date_of_birth": "1970-01-01",
    "gender": "female",
    "first_name": "Ada",
    "last_name": "Okafor",
}

# --- raw data --------------------------------------------------------------------------


def test_raw_data_lists_one_item_per_capture(clarius_sandbox, sandbox_research, exam):
    r = sandbox_research.get(f"exams/rawdata/{exam.exam_uuid}/")
    assert r.status_code == 200
    items = r.json()
    captures = clarius_sandbox.state.exams[exam.exam_uuid].captures
    assert [i["capture_uuid"] for i in items] == [c.capture_uuid for c in captures]
    blob = json.loads(items[0]["blob"])
    assert blob["id"] == "{" + items[0]["capture_uuid"] + "}"
    assert blob["exam id"] == "{" + exam.exam_uuid + "}"
    for key in ("date and time", "probe serial", "probe model"):
        assert isinstance(blob[key], str)
    section = blob["sections"][0]
    stream = section["streams"][0]
    assert stream["stream id"] == 0.0
    assert stream["info"]["size"] == {
        "samples per line": 1078.0,
        "number of lines": 192.0,
        "sample size": "1 bytes",
    }
    assert stream["info"]["type"] == "B pre-scan"
    assert stream["info"]["sampling rate"].endswith(" MHz")
    assert set(section["acoustic"]) == {"mi", "tib", "tis"}
    assert items[0]["raw_image"].startswith(clarius_sandbox.media_origin + "/")


def test_a_raw_data_link_downloads_a_tar_of_the_listed_files(sandbox_research, exam):
    item = sandbox_research.get(f"exams/rawdata/{exam.exam_uuid}/").json()[0]
    r = requests.get(item["raw_image"], timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(r.content)) as archive:
        names = archive.getnames()
        envelope = archive.extractfile(names[0]).read()
    assert names == json.loads(item["blob"])["sections"][0]["files"]
    assert len(envelope) == 1078 * 192


def test_raw_data_of_an_institution_without_the_bundle_is_403(clarius_sandbox, sandbox_research):
    exam = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Bob"), notify=False)
    r = sandbox_research.get(f"exams/rawdata/{exam.exam_uuid}/")
    assert r.status_code == 403
    assert "detail" in r.json()


def test_raw_data_of_an_unknown_exam_is_404(sandbox_research):
    assert sandbox_research.get(f"exams/rawdata/{UNKNOWN_EXAM}/").status_code == 404


def test_raw_data_of_an_exam_still_processing_is_400(clarius_sandbox, sandbox_research):
    user = clarius_sandbox.add_user("Ann", research_bundle=True)
    exam = clarius_sandbox.upload_exam(user, notify=False, processing=True)
    r = sandbox_research.get(f"exams/rawdata/{exam.exam_uuid}/")
    assert (r.status_code, r.json()) == (400, {"detail": "exam is still being processed"})
    clarius_sandbox.state.exams[exam.exam_uuid].processing = False
    assert sandbox_research.get(f"exams/rawdata/{exam.exam_uuid}/").status_code == 200


# --- DICOM export ----------------------------------------------------------------------


def export(sandbox_research, exam_uuid, **kwargs):
    return sandbox_research.post(f"exams/dicom/{exam_uuid}/", **kwargs)


def test_a_default_export_is_a_parseable_ultrasound_dicom(clarius_sandbox, sandbox_research, exam):
    r = export(sandbox_research, exam.exam_uuid)
    assert r.status_code == 200
    url = r.json()["download_url"]
    assert url.startswith(clarius_sandbox.media_origin + "/")
    download = requests.get(url, timeout=10)
    assert download.headers["Content-Type"] == "application/dicom"
    assert download.content[128:132] == b"DICM"
    ds = pydicom.dcmread(io.BytesIO(download.content))
    assert ds.SOPClassUID == UltrasoundImageStorage
    assert ds.Modality == "US"
    assert str(ds.PatientName) == "Okafor^Ada"
    assert ds.PatientID == "MRN-00042"
    assert ds.PatientBirthDate == "19700101"
    assert ds.PatientSex == "F"
    assert (ds.Columns, ds.Rows) == (1024, 768)
    assert ds.pixel_array.shape == (768, 1024, 3)
    assert ds.BurnedInAnnotation == "NO"
    recorded = clarius_sandbox.state.exams[exam.exam_uuid].dicom_exports[-1]
    assert recorded.received == {}
    assert recorded.params["syntax"] == "jpeg lossless nonheirarchical process 14"
    assert recorded.params["tz"] == "UTC"


EVERY_PARAMETER = {
    "syntax": "jpeg ls lossless",
    "b_image_only": False,
    "resolution": "640x480",
    "include_annotations": True,
    "include_demographics": True,
    "include_measurements": True,
    "include_scan_parameters": True,
    "demographics": ["PATIENT_NAME", "PATIENT_ID", "EXAM_DATE"],
    "tz": "America/Vancouver",
}


def test_every_parameter_arrives_as_sent_and_shapes_the_file(
    clarius_sandbox, sandbox_research, exam
):
    r = export(sandbox_research, exam.exam_uuid, json=EVERY_PARAMETER)
    assert r.status_code == 200
    recorded = clarius_sandbox.state.exams[exam.exam_uuid].dicom_exports[-1]
    assert recorded.received == EVERY_PARAMETER
    assert recorded.params == EVERY_PARAMETER
    ds = pydicom.dcmread(io.BytesIO(requests.get(r.json()["download_url"], timeout=10).content))
    assert (ds.Columns, ds.Rows) == (640, 480)
    assert ds.BurnedInAnnotation == "YES"
    assert ds.TimezoneOffsetFromUTC in ("-0800", "-0700")
    assert "jpeg ls lossless" in ds.DerivationDescription


def test_parameters_may_come_as_a_form_or_in_the_query(clarius_sandbox, sandbox_research, exam):
    export(
        sandbox_research,
        exam.exam_uuid,
        data={"b_image_only": "true", "demographics": ["PATIENT_ID", "APPLICATION"]},
    )
    export(sandbox_research, exam.exam_uuid, params={"resolution": "800x600", "tz": "Europe/Paris"})
    form, query = clarius_sandbox.state.exams[exam.exam_uuid].dicom_exports[-2:]
    assert form.params["b_image_only"] is True
    assert form.params["demographics"] == ["PATIENT_ID", "APPLICATION"]
    assert (query.params["resolution"], query.params["tz"]) == ("800x600", "Europe/Paris")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"syntax": "jpeg lossless nonhierarchical process 14"}, "syntax"),  # not vendor spelling
        ({"resolution": "1024*768"}, "resolution"),
        ({"resolution": "0x0"}, "resolution"),
        ({"resolution": "99999x2"}, "resolution"),
        ({"include_annotations": "maybe"}, "include_annotations"),
        ({"demographics": ["PATIENT_NAME", "SHOE_SIZE"]}, "demographics"),
        ({"demographics": 7}, "demographics"),
        ({"tz": "Mars/Olympus_Mons"}, "tz"),
    ],
)
def test_invalid_parameters_are_400_and_recorded(
    clarius_sandbox, sandbox_research, exam, body, field
):
    r = export(sandbox_research, exam.exam_uuid, json=body)
    assert r.status_code == 400
    assert field in r.json()
    recorded = clarius_sandbox.state.exams[exam.exam_uuid].dicom_exports[-1]
    assert recorded.received == body
    assert field in recorded.errors


def test_export_permissions_and_errors(clarius_sandbox, sandbox_research):
    assert export(sandbox_research, UNKNOWN_EXAM).status_code == 404
    plain = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Bob"), notify=False)
    assert export(sandbox_research, plain.exam_uuid).status_code == 403
    user = clarius_sandbox.add_user("Cy", research_bundle=True)
    busy = clarius_sandbox.upload_exam(user, notify=False, processing=True)
    assert export(sandbox_research, busy.exam_uuid).status_code == 400


def test_an_animal_patient_exports_species_and_owner(clarius_sandbox, sandbox_research):
    user = clarius_sandbox.add_user("Vet", research_bundle=True)
    patient = {"animal_name": "Biscuit", "animal_type": "Canine", "owner_name": "Lea Rossi"}
    exam = clarius_sandbox.upload_exam(user, notify=False, patient=patient)
    url = export(sandbox_research, exam.exam_uuid).json()["download_url"]
    ds = pydicom.dcmread(io.BytesIO(requests.get(url, timeout=10).content))
    assert (str(ds.PatientName), ds.PatientSpeciesDescription) == ("Biscuit", "Canine")
    assert str(ds.ResponsiblePerson) == "Lea Rossi"
