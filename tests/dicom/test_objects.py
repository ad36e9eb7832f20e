"""The DICOM objects the portal makes: valid by dciodvfy, readable back by pydicom."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from django.db import connection
from PIL import Image
from pydicom import dcmread

from integrations.dicom import objects
from portal.outbound import uids
from portal.outbound.models import Transmission
from tests import services
from tests.factories import add_stored_capture, make_exam


@pytest.fixture(autouse=True)
def media(media_root):
    return media_root


def written(dataset, tmp_path: Path, name: str = "object.dcm") -> Path:
    path = tmp_path / name
    dataset.save_as(path, enforce_file_format=True)
    return path


def errors_of(path: Path) -> list[str]:
    """dciodvfy's error lines for the file (warnings are allowed)."""
    dciodvfy = services.tool("dciodvfy", "dicom3tools")
    run = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    # Its first line names the IOD it checked against: it did check.
    assert lines and lines[0] in {"USImage", "USMultiFrameImage", "EncapsulatedPDF"}, lines
    return [line for line in lines if line.startswith(("Error", "Abort"))]


def jpeg(size=(64, 48), colour=(40, 90, 120), mode="RGB", **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour if mode == "RGB" else colour[0]).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def png(size=(32, 24), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    colour = {"RGB": (200, 30, 60), "RGBA": (200, 30, 60, 128), "L": 90}[mode]
    Image.new(mode, size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def transmission(exam, what, **fields) -> Transmission:
    return Transmission(institution=exam.institution, exam=exam, what=what, **fields)


@pytest.fixture
def exam(northside, bob):
    exam = make_exam(northside, bob, patient_name="Nora North", captures=0)
    exam.patient.gender = "female"
    exam.patient.extra = {"accession_number": "ACC-1", "referring_physician": "Ada Lovelace"}
    exam.patient.save()
    return exam


def test_a_jpeg_image_is_ultrasound_image_storage_with_the_jpeg_kept(exam, tmp_path):
    data = jpeg()
    capture = add_stored_capture(exam, "image/jpeg", data)
    row = transmission(exam, "image", capture=capture)

    ds = objects.build(row)

    assert row.uid == ds.SOPInstanceUID == uids.capture_uid(exam, capture)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.6.1"
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.50"
    assert (ds.Rows, ds.Columns, ds.SamplesPerPixel) == (48, 64, 3)
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    path = written(ds, tmp_path)
    assert errors_of(path) == []
    back = dcmread(path)
    from pydicom.encaps import generate_frames

    assert next(generate_frames(back.PixelData, number_of_frames=1)) == data
    pixels = back.pixel_array
    assert pixels.shape == (48, 64, 3)
    assert abs(int(pixels[10, 10, 0]) - 40) < 8  # decoded to RGB, the colour kept
    assert back.StudyInstanceUID == uids.study_uid(exam)
    assert back.PatientName == "North^Nora"
    assert back.PatientSex == "F"
    assert back.AccessionNumber == "ACC-1"
    assert back.ReferringPhysicianName == "Lovelace^Ada"
    assert back.OperatorsName == "Reviewer^Bob"
    assert back.InstitutionName == "Northside Clinic"
    assert back.Modality == "US" and back.Manufacturer == "Clarius"
    assert back.StudyDescription == "Point-of-care ultrasound"


def test_a_greyscale_jpeg_is_monochrome(exam, tmp_path):
    capture = add_stored_capture(exam, "image/jpeg", jpeg(mode="L"))
    ds = objects.build(transmission(exam, "image", capture=capture))
    assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.SamplesPerPixel == 1
    path = written(ds, tmp_path)
    assert errors_of(path) == []
    assert dcmread(path).pixel_array.shape == (48, 64)


def test_a_progressive_jpeg_is_decoded_and_stored_uncompressed(exam, tmp_path):
    capture = add_stored_capture(exam, "image/jpeg", jpeg(progressive=True))
    ds = objects.build(transmission(exam, "image", capture=capture))
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert errors_of(written(ds, tmp_path)) == []


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_a_png_image_is_stored_uncompressed(exam, tmp_path, mode):
    capture = add_stored_capture(exam, "image/png", png(mode=mode))
    ds = objects.build(transmission(exam, "image", capture=capture))
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert ds.LossyImageCompression == "00"
    path = written(ds, tmp_path)
    assert errors_of(path) == []
    pixels = dcmread(path).pixel_array
    if mode == "L":
        assert pixels.shape == (24, 32) and pixels[0, 0] == 90
    else:
        assert pixels.shape == (24, 32, 3)
        expected = (200, 30, 60) if mode == "RGB" else (100, 15, 30)
        assert all(abs(int(a) - b) <= 1 for a, b in zip(pixels[5, 5], expected, strict=True))


def test_building_twice_gives_the_same_uids(exam):
    capture = add_stored_capture(exam, "image/jpeg", jpeg())
    first = objects.build(transmission(exam, "image", capture=capture))
    again = objects.build(transmission(exam, "image", capture=capture))
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        assert first[keyword].value == again[keyword].value
    other = add_stored_capture(exam, "image/jpeg", jpeg())
    assert objects.build(transmission(exam, "image", capture=other)).SOPInstanceUID != (
        first.SOPInstanceUID
    )


# A NUL where the database can hold one (SQLite; PostgreSQL refuses it, and the portal
# removes it from outside text before it is stored, portal/text.py).
NUL = "\x00" if connection.vendor == "sqlite" else ""


def test_hostile_and_long_patient_values_make_a_valid_object(exam, tmp_path):
    patient = exam.patient
    patient.first_name = "Zoë|^~\\&"
    patient.last_name = "山田" + "x" * 190  # the column holds 200
    patient.middle_name = f"Ёж{NUL}\x1b[31m"
    patient.identifier = "ID\\" + "9" * 100
    patient.gender = "non-binary"
    patient.extra = {
        "accession_number": "A" * 40,
        "referring_physician": "Dr. ^=\\ " + "Ω" * 100,
    }
    patient.save()
    exam.institution.name = "Клиника " + "Ж" * 150
    exam.institution.save()
    capture = add_stored_capture(exam, "image/jpeg", jpeg())

    ds = objects.build(transmission(exam, "image", capture=capture))
    path = written(ds, tmp_path)

    assert errors_of(path) == []
    back = dcmread(path)
    family, given, middle = str(back.PatientName).split("^")
    assert family.startswith("山田x") and len(family.encode()) <= 64
    assert given == "Zoë| ~/&"
    assert middle == "Ёж [31m"
    assert "\\" not in back.PatientID and len(back.PatientID) <= 64
    assert back.AccessionNumber == "A" * 16
    assert back.PatientSex == "O"
    assert len(back.InstitutionName.encode()) <= 64
    for value in (back.PatientName, back.ReferringPhysicianName, back.InstitutionName):
        assert "\x00" not in str(value) and "\x1b" not in str(value)


def test_hostile_values_make_a_valid_clip_and_report(exam, tmp_path, mp4):
    patient = exam.patient
    patient.first_name, patient.last_name = "José|^~\\&", "Ωmega" * 30
    patient.extra = {"accession_number": NUL + "7" * 30, "referring_physician": "李 " * 40}
    patient.save()
    clip_row = transmission(exam, "clip", capture=add_stored_capture(exam, "video/mp4", mp4))
    version = stored_report(exam)
    version.name = "Report " + "ü" * 300
    report_row = transmission(exam, "report", report=version, result_status="P")

    for name, row in (("clip.dcm", clip_row), ("report.dcm", report_row)):
        path = written(objects.build(row), tmp_path, name)
        assert errors_of(path) == [], name
        back = dcmread(path)
        assert back.AccessionNumber == "7" * 16
        assert str(back.PatientName).split("^")[1] == "José| ~/&"


# --- clips -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mp4():
    from clarius_sandbox.video import encode_clip

    return encode_clip(7, frames=12)


def nal_units_of_mp4(data: bytes) -> list[bytes]:
    """The NAL units of an MP4's H.264 samples (4-byte big-endian length prefixes)."""
    import av

    units = []
    with av.open(io.BytesIO(data)) as container:
        for packet in container.demux(video=0):
            payload, at = bytes(packet), 0
            while at + 4 <= len(payload):
                size = int.from_bytes(payload[at : at + 4], "big")
                units.append(payload[at + 4 : at + 4 + size])
                at += 4 + size
    return units


def test_a_clip_is_multiframe_ultrasound_with_the_h264_stream_kept(exam, tmp_path, mp4):
    from pydicom.encaps import generate_fragments

    capture = add_stored_capture(exam, "video/mp4", mp4)
    row = transmission(exam, "clip", capture=capture)

    ds = objects.build(row)

    assert row.uid == uids.capture_uid(exam, capture)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.3.1"
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.102"
    assert (ds.Rows, ds.Columns) == (480, 640)
    assert ds.NumberOfFrames == 12
    assert float(ds.FrameTime) == pytest.approx(1000 / 15, abs=0.01)
    assert ds.CineRate == 15 and ds.RecommendedDisplayFrameRate == 15
    assert ds.SeriesInstanceUID == uids.series_uid(exam, "clip")
    path = written(ds, tmp_path)
    assert errors_of(path) == []

    back = dcmread(path)
    fragments = list(generate_fragments(back.PixelData))
    assert fragments[0] == b""  # the empty Basic Offset Table
    stream = b"".join(fragments[1:])
    # Not re-encoded: every NAL unit of the MP4 is in the stream, in order.
    at = 0
    for unit in nal_units_of_mp4(mp4):
        found = stream.find(b"\x00\x00\x01" + unit, at)
        assert found >= 0
        at = found + 3 + len(unit)
    assert stream[at:].strip(b"\x00") == b""
    import av

    with av.open(io.BytesIO(stream), format="h264") as container:
        assert sum(1 for _ in container.decode(video=0)) == 12


def test_a_clip_outside_the_profile_is_encoded_again(exam, tmp_path):
    """A High 4:4:4 clip (which DICOM's H.264 syntaxes do not allow) becomes High 4.1."""
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        encoder = container.add_stream("libx264", rate=10)
        encoder.width, encoder.height, encoder.pix_fmt = 64, 48, "yuv444p"
        for number in range(5):
            picture = np.full((48, 64, 3), number * 40, dtype=np.uint8)
            for packet in encoder.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in encoder.encode():
            container.mux(packet)
    capture = add_stored_capture(exam, "video/mp4", buffer.getvalue())

    ds = objects.build(transmission(exam, "clip", capture=capture))

    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.102"
    assert ds.NumberOfFrames == 5 and (ds.Rows, ds.Columns) == (48, 64)
    assert ds.CineRate == 10
    assert errors_of(written(ds, tmp_path)) == []


# --- reports -----------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n%%EOF\n"


def stored_report(exam, version=1, pdf=PDF):
    from portal import storage
    from portal.reports.issuing import report_relpath
    from portal.reports.models import Report

    relpath = report_relpath(exam, version)
    storage.local_file(relpath).parent.mkdir(parents=True, exist_ok=True)
    storage.local_file(relpath).write_bytes(pdf)
    return Report.objects.create(
        institution=exam.institution,
        exam=exam,
        submission=exam.submissions.get(),
        version=version,
        name="Ultrasound report — ÉCHO",
        file=relpath,
        size=len(pdf),
        source=Report.Source.GENERATED,
    )


@pytest.mark.parametrize(
    ("status", "verification"), [("P", "UNVERIFIED"), ("F", "VERIFIED"), ("C", "VERIFIED")]
)
def test_a_report_is_encapsulated_pdf(exam, tmp_path, status, verification):
    version = stored_report(exam, version=2, pdf=PDF + b"x")  # odd length: padded
    row = transmission(exam, "report", report=version, result_status=status)

    ds = objects.build(row)

    assert row.uid == uids.report_uid(exam, 2) == ds.SOPInstanceUID
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1"
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    path = written(ds, tmp_path)
    assert errors_of(path) == []
    back = dcmread(path)
    assert back.EncapsulatedDocument[: back.EncapsulatedDocumentLength] == PDF + b"x"
    assert back.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert back.DocumentTitle == "Ultrasound report — ÉCHO"
    assert back.VerificationFlag == verification
    assert back.Modality == "DOC" and back.InstanceNumber == 2
    assert back.StudyInstanceUID == uids.study_uid(exam)
    assert back.SeriesInstanceUID == uids.series_uid(exam, "report")


def test_a_missing_file_is_a_permanent_failure(exam):
    from portal.outbound.kinds import DeliveryFailed

    version = stored_report(exam)
    from portal import storage

    storage.local_file(version.file).unlink()
    with pytest.raises(DeliveryFailed) as failure:
        objects.build(transmission(exam, "report", report=version, result_status="F"))
    assert failure.value.permanent


# --- research exports --------------------------------------------------------------------


def test_a_research_file_is_passed_through_as_received(exam, tmp_path):
    from pydicom.uid import generate_uid

    from portal import storage

    original = objects.build(
        transmission(exam, "image", capture=add_stored_capture(exam, "image/png", png()))
    )
    original.SOPInstanceUID = original.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    original.ManufacturerModelName = "HD3"
    relpath = f"{exam.institution_id}/{exam.exam_uuid}/research/dicom-1.dcm"
    storage.local_file(relpath).parent.mkdir(parents=True, exist_ok=True)
    original.save_as(storage.local_file(relpath), enforce_file_format=True)
    row = transmission(exam, "research", source=relpath)

    ds = objects.build(row)

    assert row.uid == original.SOPInstanceUID
    assert ds.ManufacturerModelName == "HD3" and ds.PixelData == original.PixelData
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    assert buffer.getvalue() == storage.local_file(relpath).read_bytes()


def test_a_research_file_that_is_not_dicom_is_a_permanent_failure(exam):
    from portal import storage
    from portal.outbound.kinds import DeliveryFailed

    relpath = f"{exam.institution_id}/{exam.exam_uuid}/research/dicom-2.dcm"
    storage.local_file(relpath).parent.mkdir(parents=True, exist_ok=True)
    storage.local_file(relpath).write_bytes(b"not DICOM at all" * 20)
    with pytest.raises(DeliveryFailed) as failure:
        objects.build(transmission(exam, "research", source=relpath))
    assert failure.value.permanent


# --- the study's attributes and the value rules ------------------------------------------


def test_the_study_is_dated_in_the_institutions_zone_and_described_by_its_exam_type(exam, tmp_path):
    from datetime import UTC, datetime

    from portal.exams.models import Exam
    from portal.worksheets.models import ExamType

    exam.institution.time_zone = "America/Vancouver"
    exam.institution.save()
    kind = ExamType.objects.create(institution=exam.institution, code="ruq", name="RUQ / biliary")
    Exam.objects.filter(pk=exam.pk).update(
        exam_type=kind, first_submitted_at=datetime(2026, 1, 1, 3, 4, 5, tzinfo=UTC)
    )
    exam.refresh_from_db()
    capture = add_stored_capture(exam, "image/jpeg", jpeg())

    ds = objects.build(transmission(exam, "image", capture=capture))

    assert (ds.StudyDate, ds.StudyTime, ds.TimezoneOffsetFromUTC) == (
        "20251231",
        "190405",
        "-0800",
    )
    assert ds.StudyDescription == "RUQ / biliary"
    assert errors_of(written(ds, tmp_path)) == []


def test_an_animal_patient_is_named_owner_and_animal(exam):
    patient = exam.patient
    patient.animal_name, patient.owner_name = "Rex", "Smith"
    patient.save()
    capture = add_stored_capture(exam, "image/jpeg", jpeg())
    assert objects.build(transmission(exam, "image", capture=capture)).PatientName == "Smith^Rex"


@pytest.mark.parametrize(
    ("words", "code"),
    [
        ("Male", "M"),
        ("m", "M"),
        (" FEMALE ", "F"),
        ("woman", "F"),
        ("other", "O"),
        ("Non-binary", "O"),
        ("", ""),
        ("unknown", ""),
        (None, ""),
    ],
)
def test_sex_from_gender_words(words, code):
    from integrations.dicom import values

    assert values.sex(words) == code


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("Ada Lovelace", "Lovelace^Ada"),
        ("Lovelace, Ada King", "Lovelace^Ada^King"),
        ("Ada Byron King Lovelace", "Lovelace^Ada^Byron King"),
        ("Plato", "Plato"),
        ("  ", ""),
        (None, ""),
        ("a^b=c\\d", "a b c/d"),
    ],
)
def test_person_names_from_a_line_of_text(line, name):
    from integrations.dicom import values

    assert values.person_name_of(line) == name


def test_values_are_cut_to_their_vr_in_bytes_never_mid_character():
    from integrations.dicom import values

    assert values.text("é" * 40, "SH") == "é" * 8  # 16 bytes
    assert values.text("x\x00y\u202ez\nw", "LO") == "x y z w"
    name = values.person_name("Ж" * 50, "Ω" * 50, "m" * 10)
    assert len(name.encode()) <= 64
    family, given, middle = name.split("^")
    assert family and given and middle == "m" * 10


def test_the_h264_transfer_syntax_and_what_may_be_kept():
    from fractions import Fraction

    from integrations.dicom import video

    def stream(width=640, height=480, rate=15, profile=100, level=30, constraints=0):
        return video.Stream(
            b"", width, height, 10, Fraction(rate), profile, level, constraints=constraints
        )

    assert video.fits(stream())
    assert video.fits(stream(profile=77)) and video.fits(stream(profile=66, constraints=0x40))
    assert not video.fits(stream(profile=66))  # Baseline with FMO/ASO is not High
    assert not video.fits(stream(profile=244))  # High 4:4:4
    assert not video.fits(stream(level=42))
    assert not video.fits(stream(width=3840, height=2160))
    assert not video.fits(stream(width=1920, height=1080, rate=60))
    assert video.fits(stream(width=1280, height=720, rate=60))
    assert stream().transfer_syntax == video.HIGH_41
    assert stream(1280, 720, rate=50).transfer_syntax == video.HIGH_41_BD
    assert stream(1920, 1080, rate=24).transfer_syntax == video.HIGH_41_BD
    assert stream(1920, 1080, rate=30).transfer_syntax == video.HIGH_41
