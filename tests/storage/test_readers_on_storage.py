"""The portal's own readers and writers of stored files, on local files and on the S3
server: uploaded reports stored whole or not at all, previews stored by name, research
archives unpacked into the storage, PDFs read back for HL7 and FHIR."""

import hashlib
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from portal import storage as store
from portal.exams import media
from portal.reports import issuing
from portal.reports.models import Report
from tests.factories import make_exam

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)


def test_an_uploaded_report_is_stored_with_its_checksum(storage, northside, bob):
    exam = make_exam(northside, bob)
    report = issuing.issue_uploaded_report(
        exam, bob, "Outside report", SimpleUploadedFile("r.pdf", PDF, "application/pdf")
    )
    assert store.read_bytes(report.file) == PDF
    assert (report.size, report.sha256) == (len(PDF), hashlib.sha256(PDF).hexdigest())

    from integrations.fhir.bundle import read_pdf

    assert read_pdf(report) == PDF


def test_a_failure_after_the_upload_is_stored_leaves_neither_row_nor_file(
    storage, northside, bob, monkeypatch
):
    exam = make_exam(northside, bob)
    names = []
    real = store.save_file

    def remember(name, path, **kwargs):
        names.append(name)
        return real(name, path, **kwargs)

    def fail(*args, **kwargs):
        raise issuing.ReportRefused("stopped on purpose")

    monkeypatch.setattr(store, "save_file", remember)
    monkeypatch.setattr(issuing.work, "schedule_now", fail)
    with pytest.raises(issuing.ReportRefused):
        issuing.issue_uploaded_report(
            exam, bob, "Outside report", SimpleUploadedFile("r.pdf", PDF, "application/pdf")
        )
    assert not Report.objects.exists()
    assert names and not store.exists(names[0])


def test_a_preview_is_stored_under_its_name(storage, tmp_path):
    source = tmp_path / "image.png"
    Image.new("RGB", (640, 480), (20, 90, 120)).save(source, "PNG")
    assert media.make_preview(source, "image/png", "1/x/y/000.thumb.jpg") == (640, 480)
    with Image.open(io.BytesIO(store.read_bytes("1/x/y/000.thumb.jpg"))) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (320, 240)


def test_a_research_archive_is_unpacked_into_the_storage(storage, northside, bob):
    from integrations.clarius.models import DicomExport
    from integrations.clarius.research import onward

    exam = make_exam(northside, bob, captures=0)
    dicom = b"\x00" * 128 + b"DICM" + b"rest of a part-10 file"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", b"not DICOM")
        archive.writestr("IM0001", dicom)
    name = f"{northside.pk}/{exam.exam_uuid}/research/dicom-3.zip"
    store.save_bytes(name, buffer.getvalue())
    export = DicomExport(exam=exam, file=name, content_type="application/zip")
    assert onward.dicom_files(export) == [name.removesuffix(".zip") + "/0001.dcm"]
    assert store.read_bytes(name.removesuffix(".zip") + "/0001.dcm") == dicom
