"""A stored research DICOM export goes on to the institution's PACS destinations, as is."""

from __future__ import annotations

import io
import zipfile

import pytest
from pydicom import dcmread

from integrations.clarius.models import DicomExport
from integrations.clarius.research import onward
from integrations.clarius.research import service as research
from integrations.dicom import objects
from portal import storage
from portal.outbound import kinds
from portal.outbound.models import Destination, Transmission
from tests.clarius.test_research_dicom import export, scan  # noqa: F401 (fixtures)
from tests.factories import add_stored_capture, make_exam

pytestmark = pytest.mark.django_db

KEY = "research-onward-test"


@pytest.fixture
def pacs(northside):
    """A destination of Northside taking images, of a kind that takes research files and
    keeps what it is sent (the file's SOP Instance UID) instead of sending it anywhere."""
    received = []

    def send(transmission):
        received.append(objects.build(transmission).SOPInstanceUID)
        return "stored"

    kind = kinds.Kind(
        key=KEY,
        label="Test PACS",
        carries=kinds.IMAGES,
        send=send,
        test=lambda destination: "ok",
        describe=lambda destination: "test",
    )
    kinds.register(kind)
    destination = Destination.objects.create(institution=northside, name="PACS", kind=KEY)
    destination.received = received
    yield destination
    kinds._kinds.entries.pop(KEY, None)


@pytest.fixture
def member(client, bob, clarius_settings):
    research.connect(bob, "researcher@example.com", "research-pass")
    client.force_login(bob)
    return client


def test_a_finished_export_is_planned_and_sent_as_received(
    member,
    scan,  # noqa: F811
    pacs,
    django_capture_on_commit_callbacks,
):
    exam, _sandbox_exam = scan
    done = export(member, exam, django_capture_on_commit_callbacks)
    assert done.state == "done", done.last_error

    (row,) = Transmission.objects.filter(exam=exam)
    assert (row.destination, row.what, row.source) == (pacs, "research", done.file)
    original = dcmread(storage.local_file(done.file))
    from portal.outbound.sending import send_transmission

    send_transmission(row.pk)
    row.refresh_from_db()
    assert row.state == "sent", row.last_error
    assert row.uid == original.SOPInstanceUID
    assert pacs.received == [original.SOPInstanceUID]


def test_no_destination_means_nothing_is_planned(member, scan, django_capture_on_commit_callbacks):  # noqa: F811
    exam, _ = scan
    done = export(member, exam, django_capture_on_commit_callbacks)
    assert done.state == "done"
    assert not Transmission.objects.filter(exam=exam).exists()


def dicom_bytes(exam, tmp_path, n) -> bytes:
    """A Part-10 file the portal's own builder makes (a stand-in for Clarius' export)."""
    from tests.dicom.test_objects import jpeg, transmission

    capture = add_stored_capture(exam, "image/jpeg", jpeg(colour=(n * 30, 10, 10)))
    path = tmp_path / f"{n}.dcm"
    objects.build(transmission(exam, "image", capture=capture)).save_as(
        path, enforce_file_format=True
    )
    return path.read_bytes()


def test_each_dicom_file_of_an_archive_is_planned(northside, bob, pacs, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    exam = make_exam(northside, bob, captures=0)
    buffer = io.BytesIO()
    files = [dicom_bytes(exam, tmp_path, n) for n in range(3)]
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../escape/IM0001", files[0])  # names of the archive are not used
        archive.writestr("README.txt", b"not DICOM")
        archive.writestr("sub/IM0002.dcm", files[1])
        archive.writestr("sub/IM0003", files[2])
    relpath = f"{research.research_dir(exam)}/dicom-9.zip"
    storage.save_bytes(relpath, buffer.getvalue())
    export_row = DicomExport.objects.create(
        institution=northside,
        exam=exam,
        state=DicomExport.State.DONE,
        file=relpath,
        content_type="application/zip",
    )

    assert onward.plan(export_row) == 3

    sources = sorted(Transmission.objects.filter(exam=exam).values_list("source", flat=True))
    folder = relpath.removesuffix(".zip")
    assert sources == [f"{folder}/0001.dcm", f"{folder}/0002.dcm", f"{folder}/0003.dcm"]
    assert [storage.read_bytes(s) for s in sources] == files
    assert not (tmp_path / "escape").exists()
    # Planning again (a retried task) adds nothing.
    onward.plan(export_row)
    assert Transmission.objects.filter(exam=exam).count() == 3


def test_a_broken_archive_plans_nothing_and_fails_nothing(northside, bob, pacs, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    exam = make_exam(northside, bob, captures=0)
    relpath = f"{research.research_dir(exam)}/dicom-5.zip"
    storage.save_bytes(relpath, b"PK\x03\x04 not really")
    export_row = DicomExport.objects.create(
        institution=northside, exam=exam, file=relpath, content_type="application/zip"
    )
    assert onward.plan(export_row) == 0
    assert not Transmission.objects.filter(exam=exam).exists()


def test_an_archive_over_the_cap_leaves_none_of_its_files(
    northside, bob, pacs, settings, tmp_path, monkeypatch
):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    exam = make_exam(northside, bob, captures=0)
    files = [dicom_bytes(exam, tmp_path, n) for n in range(3)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n, data in enumerate(files):
            archive.writestr(f"IM{n}", data)
    relpath = f"{research.research_dir(exam)}/dicom-7.zip"
    storage.save_bytes(relpath, buffer.getvalue())
    export_row = DicomExport.objects.create(
        institution=northside, exam=exam, file=relpath, content_type="application/zip"
    )
    monkeypatch.setattr(onward, "MAX_UNPACKED_BYTES", len(files[0]) + len(files[1]) // 2)
    assert onward.plan(export_row) == 0
    folder = relpath.removesuffix(".zip")
    assert not any(storage.exists(f"{folder}/{n:04d}.dcm") for n in range(1, 4))
    assert not list(storage.local_file(folder).parent.glob("dicom-7/*"))  # no part left
