"""A real Orthanc for the DICOM sending tests, and destinations of Northside pointing at it.

One Orthanc per test module (module scope: starting it takes a second or two); every test
sends its own exam, so studies never collide and each test counts only its own.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from portal import storage
from portal.outbound import uids
from portal.outbound.models import Destination
from tests import services

CLIP_FRAMES = 15


@pytest.fixture(scope="module")
def pacs(tmp_path_factory):
    local_pacs = services.orthanc()
    orthanc = local_pacs.LocalOrthanc(tmp_path_factory.mktemp("orthanc"), aet="ORTHANC")
    orthanc.start()
    try:
        yield orthanc
    finally:
        orthanc.stop()


@pytest.fixture
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


def dicom_destination(institution, pacs, **options) -> Destination:
    return Destination.objects.create(
        institution=institution,
        name="Radiology PACS",
        kind="dicom",
        options={
            "host": "127.0.0.1",
            "port": pacs.dicom_port,
            "called_ae": pacs.aet,
            "calling_ae": "CLARIUSPORTAL",
            **options,
        },
    )


def dicomweb_destination(institution, pacs, token="", **options) -> Destination:
    destination = Destination(
        institution=institution,
        name="Radiology DICOMweb",
        kind="dicomweb",
        options={"url": getattr(pacs, "dicomweb_url", None) or getattr(pacs, "url", ""), **options},
    )
    destination.secret = token
    destination.save()
    return destination


def signed_exam(institution, operator, *, images=3, clips=1):
    """An exam of ``images`` JPEG images and ``clips`` H.264 clips from the Clarius
    sandbox, planned to the institution's destinations, then signed (its report PDF made
    and planned too). Returns (exam, report)."""
    from clarius_sandbox import imaging, video
    from portal.outbound import planning
    from tests.factories import add_stored_capture, make_exam
    from tests.reports.conftest import sign

    exam = make_exam(institution, operator, patient_name="Nora North", captures=0)
    exam.patient.extra = {**(exam.patient.extra or {}), "accession_number": f"ACC{exam.pk}"}
    exam.patient.save()
    for seed in range(images):
        picture = imaging.bmode_image(seed)
        add_stored_capture(
            exam,
            "image/jpeg",
            imaging.encode_jpeg(picture),
            width=picture.width,
            height=picture.height,
        )
    for seed in range(clips):
        add_stored_capture(
            exam,
            "video/mp4",
            video.encode_clip(100 + seed, frames=CLIP_FRAMES),
            frame_rate=video.FPS,
        )
    planning.plan_exam(exam)
    report = sign(exam, operator)
    return exam, report


def send_due(exam) -> list[str]:
    """Every pending transmission of the exam, sent now as the worker would."""
    from django.utils import timezone

    from portal.outbound.models import Transmission
    from portal.outbound.sending import send_transmission

    rows = Transmission.objects.filter(exam=exam, state=Transmission.State.PENDING)
    rows.update(next_attempt_at=timezone.now(), claimed_until=None)
    return [send_transmission(pk) for pk in rows.order_by("pk").values_list("pk", flat=True)]


def orthanc_study(pacs, study_uid: str) -> dict | None:
    """Orthanc's study with this Study Instance UID (expanded), or None."""
    import requests

    response = requests.post(
        f"{pacs.url}/tools/find",
        json={"Level": "Study", "Query": {"StudyInstanceUID": study_uid}, "Expand": True},
        timeout=30,
    )
    response.raise_for_status()
    found = response.json()
    return found[0] if found else None


ULTRASOUND_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
ULTRASOUND_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
H264 = {"1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.103"}  # High Profile (BD)


def instances_by_series(pacs, study) -> dict[str, list[dict]]:
    """Orthanc's instances of the study by Series Instance UID: the tags of each."""
    found = {}
    for series_id in study["Series"]:
        series = pacs.rest(f"/series/{series_id}")
        found[series["MainDicomTags"]["SeriesInstanceUID"]] = [
            {"id": i, **pacs.rest(f"/instances/{i}/simplified-tags")} for i in series["Instances"]
        ]
    return found


def check_arrived(pacs, exam, report, *, images: int, clips: int) -> dict:
    """Read the exam's study back from Orthanc: counts, the key attributes, a decoded
    frame of each image, the clip's transfer syntax and frame count, the PDF's bytes.
    Returns Orthanc's study."""
    study = orthanc_study(pacs, uids.study_uid(exam))
    assert study is not None, "the study is not in the PACS"
    statistics = pacs.rest(f"/studies/{study['ID']}/statistics")
    count = images + clips + 1
    assert int(statistics["CountInstances"]) == count
    assert int(statistics["CountSeries"]) == 1 + bool(images) + bool(clips)
    assert study["PatientMainDicomTags"]["PatientName"] == "North^Nora"
    assert study["PatientMainDicomTags"]["PatientID"] == exam.patient.identifier
    assert study["MainDicomTags"]["AccessionNumber"] == f"ACC{exam.pk}"
    series = instances_by_series(pacs, study)
    for tags in [t for found in series.values() for t in found]:
        assert tags["StudyInstanceUID"] == uids.study_uid(exam)
        assert tags["PatientID"] == exam.patient.identifier
        assert tags["AccessionNumber"] == f"ACC{exam.pk}"

    captures = {uids.capture_uid(exam, c): c for c in exam.captures.all()}
    stored_images = series.get(uids.series_uid(exam, "image"), [])
    assert len(stored_images) == images
    for tags in stored_images:  # the JPEG kept as is, a frame Orthanc decodes at its size
        capture = captures[tags["SOPInstanceUID"]]
        assert tags["SOPClassUID"] == ULTRASOUND_IMAGE
        assert pacs.rest(f"/instances/{tags['id']}/metadata?expand")["TransferSyntax"] == (
            JPEG_BASELINE
        )
        frame = Image.open(io.BytesIO(pacs.raw(f"/instances/{tags['id']}/frames/0/preview")))
        frame.load()
        assert frame.size == (capture.width, capture.height)

    stored_clips = series.get(uids.series_uid(exam, "clip"), [])
    assert len(stored_clips) == clips
    for tags in stored_clips:  # H.264, every frame counted
        assert tags["SOPClassUID"] == ULTRASOUND_MULTIFRAME
        assert pacs.rest(f"/instances/{tags['id']}/metadata?expand")["TransferSyntax"] in H264
        assert int(tags["NumberOfFrames"]) == CLIP_FRAMES

    (document,) = series[uids.series_uid(exam, "report")]
    assert document["SOPClassUID"] == ENCAPSULATED_PDF
    assert document["SOPInstanceUID"] == uids.report_uid(exam, report.version)
    stored = pacs.raw(f"/instances/{document['id']}/content/0042-0011")
    pdf = storage.read_bytes(report.file)
    assert stored[: len(pdf)] == pdf and not stored[len(pdf) :].strip(b"\x00")
    return study
