"""Research API files (a DICOM export, a raw-data file) stream into the S3 bucket too,
read back through a scratch copy for their tags, with nothing left on local disk."""

import hashlib

import pytest
from django.urls import reverse

from integrations.clarius.models import DicomExport, RawDataFile
from integrations.clarius.research import service as research
from portal import storage as store
from portal.exams.models import Exam
from tests.clarius.test_research_dicom import form
from tests.factories import make_exam

pytestmark = pytest.mark.django_db


@pytest.fixture
def scan(clarius_settings, clarius_sandbox, northside, bob, s3_storage, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    uploader = clarius_sandbox.add_user("Bob", research_bundle=True)
    request = clarius_sandbox.upload_exam(uploader, captures=1, videos=0, notify=False)
    exam = make_exam(northside, bob)
    Exam.objects.filter(pk=exam.pk).update(exam_uuid=request.exam_uuid)
    exam.refresh_from_db()
    research.connect(bob, "researcher@example.com", "research-pass")
    return exam, clarius_sandbox.state.exams[request.exam_uuid]


def stored_keys(s3):
    client, bucket = s3
    return {i["Key"] for i in client.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_a_dicom_export_is_stored_in_the_bucket_with_its_tags(
    client, bob, scan, s3_storage, tmp_path, django_capture_on_commit_callbacks
):
    exam, _ = scan
    client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("clarius-dicom", args=[exam.pk]), form())
    assert response.status_code == 302
    done = DicomExport.objects.latest("pk")
    assert done.state == "done", done.last_error
    assert done.file in stored_keys(s3_storage)
    data = store.read_bytes(done.file)
    assert data[128:132] == b"DICM" and len(data) == done.size
    assert hashlib.sha256(data).hexdigest() == done.sha256
    assert done.tags["Modality"] == "US"
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").rglob("*"))
    assert not any((tmp_path / "scratch").glob("*"))


def test_a_raw_data_file_is_stored_in_the_bucket(
    client, bob, scan, s3_storage, django_capture_on_commit_callbacks
):
    exam, sandbox_exam = scan
    client.force_login(bob)
    capture_uuid = sandbox_exam.captures[0].capture_uuid
    fetch = reverse("clarius-raw-data-fetch", args=[exam.pk, capture_uuid])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(fetch).status_code == 302
    row = RawDataFile.objects.get()
    assert row.state == "done", row.last_error
    assert row.file in stored_keys(s3_storage)
    assert hashlib.sha256(store.read_bytes(row.file)).hexdigest() == row.sha256
