"""DICOM objects made from what the portal holds, for C-STORE and STOW-RS.

``build(transmission)`` returns the dataset (file meta set) of what one transmission
carries and sets ``transmission.uid`` to its SOP Instance UID:

- an image capture: *Ultrasound Image Storage*; a baseline JPEG kept byte for byte
  (JPEG Baseline transfer syntax, encapsulated), anything else decoded with Pillow and
  stored uncompressed (Explicit VR Little Endian);
- a clip: *Ultrasound Multi-frame Image Storage* with the H.264 elementary stream
  (MPEG-4 AVC/H.264 High Profile / Level 4.1), see ``integrations.dicom.video``;
- a report version: *Encapsulated PDF Storage*, its result status as the Verification
  Flag;
- a research DICOM export: the file as received.

Patient, study and series attributes come from the exam (``header``); every UID from
``portal.outbound.uids``, so building twice gives the same object and resending
replaces it at the receiver.
"""

from __future__ import annotations

import io
import struct
from zoneinfo import ZoneInfo

from django.utils import timezone
from pydicom import Dataset, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    EncapsulatedPDFStorage,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
)

from integrations.dicom import values
from portal import storage
from portal.outbound import uids
from portal.outbound.kinds import DeliveryFailed

MANUFACTURER = "Clarius"
DEFAULT_DESCRIPTION = "Point-of-care ultrasound"
IMPLEMENTATION_VERSION = "POCUSPORTAL1"

IMAGE, CLIP, RESEARCH, REPORT = "image", "clip", "research", "report"


def build(transmission) -> Dataset:
    """The dataset of what ``transmission`` carries; sets ``transmission.uid``.

    Raises ``DeliveryFailed(permanent=True)`` when the object cannot be made (its file
    is missing or is not what it claims to be): sending again would not help.
    """
    what = transmission.what
    if what == RESEARCH:
        dataset = research(transmission.source)
    elif what == IMAGE:
        dataset = image(transmission.exam, transmission.capture)
    elif what == CLIP:
        dataset = clip(transmission.exam, transmission.capture)
    elif what == REPORT:
        dataset = report(transmission.exam, transmission.report, transmission.result_status)
    else:
        raise DeliveryFailed(f"There is no DICOM object for “{what}”.", permanent=True)
    transmission.uid = str(dataset.SOPInstanceUID)
    return dataset


# --- what every object says about the patient, the study and the series -----------------


def local_time(exam):
    """When the exam was made, in the institution's time zone."""
    zone = ZoneInfo(exam.institution.time_zone or "UTC")
    return timezone.localtime(exam.first_submitted_at, zone)


def header(exam, what: str, modality: str) -> Dataset:
    """Patient, General Study, General Series and General Equipment of ``exam``."""
    ds = Dataset()
    # UTF-8: non-Latin names are kept as they are.
    ds.SpecificCharacterSet = "ISO_IR 192"
    patient = getattr(exam, "patient", None)
    extra = (patient.extra if patient else None) or {}
    if not isinstance(extra, dict):
        extra = {}
    # Patient
    if patient is not None and patient.is_animal:
        ds.PatientName = values.person_name(patient.owner_name, patient.animal_name)
    elif patient is not None:
        ds.PatientName = values.person_name(
            patient.last_name, patient.first_name, patient.middle_name
        )
    else:
        ds.PatientName = ""
    ds.PatientID = values.text(patient.identifier if patient else "", "LO")
    ds.PatientBirthDate = values.da(patient.date_of_birth if patient else None)
    ds.PatientSex = values.sex(patient.gender if patient else "")
    # General Study
    when = local_time(exam)
    ds.StudyInstanceUID = uids.study_uid(exam)
    ds.StudyDate = values.da(when)
    ds.StudyTime = values.tm(when)
    ds.TimezoneOffsetFromUTC = values.tz_offset(when)
    ds.ReferringPhysicianName = values.person_name_of(extra.get("referring_physician"))
    ds.StudyID = values.text(str(exam.pk), "SH")
    ds.AccessionNumber = values.text(extra.get("accession_number"), "SH")
    exam_type = getattr(exam, "exam_type", None)
    ds.StudyDescription = values.text(exam_type.name if exam_type else DEFAULT_DESCRIPTION)
    # General Series
    ds.Modality = modality
    ds.SeriesInstanceUID = uids.series_uid(exam, what)
    ds.SeriesNumber = uids.series_number(what)
    ds.SeriesDate = ds.StudyDate
    ds.SeriesTime = ds.StudyTime
    if modality == "US":
        # Type 2C (a paired body part): not known for a point-of-care capture, so empty.
        ds.Laterality = ""
        # The Encapsulated Document Series has no operator; an image's series does.
        operator = exam.operator
        if operator is not None:
            ds.OperatorsName = values.person_name_of(operator.get_full_name())
    # General Equipment
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = values.text(exam.institution.name)
    return ds


def finish(ds: Dataset, sop_class: str, sop_instance: str, transfer_syntax: str) -> Dataset:
    """The SOP Common attributes and the file meta information."""
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    ds.file_meta = meta
    return ds


def _read(relpath: str, what: str) -> bytes:
    try:
        return storage.read_bytes(relpath)
    except (OSError, ValueError, storage.StorageError) as e:
        raise DeliveryFailed(
            f"The {what} file is missing from the portal's storage ({e}).", permanent=True
        ) from e


def _image_common(ds: Dataset, exam, capture) -> None:
    """General Image and SOP Common attributes shared by images and clips."""
    when = local_time(exam)
    ds.InstanceNumber = capture.position + 1
    ds.ContentDate = values.da(when)
    ds.ContentTime = values.tm(when)
    ds.PatientOrientation = ""
    ds.InstanceCreationDate = ds.ContentDate
    ds.InstanceCreationTime = ds.ContentTime


# --- images ------------------------------------------------------------------------------


def jpeg_frame_header(data: bytes):
    """(SOF marker, precision, height, width, components, sampling factors) of a JPEG,
    or None when it is not one (or is truncated)."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            segment = data[i + 4 : i + 2 + length]
            if len(segment) < 6:
                return None
            precision, height, width, count = struct.unpack(">BHHB", segment[:6])
            sampling = [
                segment[6 + 3 * c + 1] for c in range(count) if 6 + 3 * c + 1 < len(segment)
            ]
            return marker, precision, height, width, count, sampling
        if marker == 0xDA:  # start of scan before any frame header
            return None
        i += 2 + length
    return None


def _adobe_transform(data: bytes):
    """The Adobe APP14 colour transform flag (0: RGB, 1: YCbCr), or None."""
    at = data.find(b"\xff\xeeAdobe")
    return data[at + 15] if at >= 0 and at + 15 < len(data) else None


def image(exam, capture) -> Dataset:
    """*Ultrasound Image Storage* of an image capture."""
    data = _read(capture.file, "image")
    ds = header(exam, IMAGE, "US")
    _image_common(ds, exam, capture)
    sop_instance = uids.capture_uid(exam, capture)
    frame = jpeg_frame_header(data)
    if frame is not None and frame[0] == 0xC0 and frame[1] == 8 and frame[4] in (1, 3):
        _baseline_jpeg(ds, data, frame)
        return finish(ds, UltrasoundImageStorage, sop_instance, JPEGBaseline8Bit)
    _decoded(ds, data)
    return finish(ds, UltrasoundImageStorage, sop_instance, ExplicitVRLittleEndian)


def _us_image(ds: Dataset, *, lossy: bool) -> None:
    """The US Image module's own attributes."""
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "01" if lossy else "00"
    if lossy:
        ds.LossyImageCompressionMethod = "ISO_10918_1"


def _baseline_jpeg(ds: Dataset, data: bytes, frame) -> None:
    """The JPEG kept as it is: the frame header says its size and colour."""
    _marker, _precision, height, width, components, sampling = frame
    _us_image(ds, lossy=True)
    ds.Rows, ds.Columns = height, width
    ds.SamplesPerPixel = components
    if components == 1:
        ds.PhotometricInterpretation = "MONOCHROME2"
    else:
        ds.PlanarConfiguration = 0
        if _adobe_transform(data) == 0:
            ds.PhotometricInterpretation = "RGB"
        elif sampling and any(s != 0x11 for s in sampling):
            ds.PhotometricInterpretation = "YBR_FULL_422"
        else:
            ds.PhotometricInterpretation = "YBR_FULL"
    ds.PixelData = encapsulate([data])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True


def _decoded(ds: Dataset, data: bytes) -> None:
    """Any other image (PNG, a progressive JPEG) decoded and stored uncompressed."""
    from PIL import Image, UnidentifiedImageError

    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DeliveryFailed(
            f"The image file cannot be read as an image ({e}).", permanent=True
        ) from e
    if picture.mode in ("RGBA", "LA", "PA") or (
        picture.mode == "P" and "transparency" in picture.info
    ):
        # Transparent parts shown on black, as an ultrasound screen shows them.
        rgba = picture.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        picture = Image.alpha_composite(background, rgba)
    grey = picture.mode in ("L", "LA", "1", "I", "I;16", "F")
    picture = picture.convert("L" if grey else "RGB")
    _us_image(ds, lossy=False)
    ds.Columns, ds.Rows = picture.size
    if grey:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
    else:
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
    pixels = picture.tobytes()
    if len(pixels) % 2:
        pixels += b"\x00"
    ds.PixelData = pixels
    ds["PixelData"].VR = "OB"


# --- clips -------------------------------------------------------------------------------


def clip(exam, capture) -> Dataset:
    """*Ultrasound Multi-frame Image Storage* of a clip, its video as H.264."""
    from integrations.dicom import video

    data = _read(capture.file, "clip")
    try:
        stream = video.h264_stream(data)
    except video.VideoError as e:
        raise DeliveryFailed(f"The clip cannot be read as a video ({e}).", permanent=True) from e
    ds = header(exam, CLIP, "US")
    _image_common(ds, exam, capture)
    _us_image(ds, lossy=True)
    ds.LossyImageCompressionMethod = "ISO_14496_10"
    # PS3.5 8.2.8: the values an MPEG-4 AVC/H.264 stream implies.
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_PARTIAL_420"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = stream.height, stream.width
    ds.NumberOfFrames = stream.frames
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.FrameTime = f"{float(1000 / stream.rate):.4f}".rstrip("0").rstrip(".")
    ds.CineRate = max(1, round(stream.rate))
    ds.RecommendedDisplayFrameRate = max(1, round(stream.rate))
    ds.PixelData = video.encapsulated(stream.data)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return finish(
        ds,
        UltrasoundMultiFrameImageStorage,
        uids.capture_uid(exam, capture),
        stream.transfer_syntax,
    )


# --- reports -----------------------------------------------------------------------------

# The result status (HL7 OBR-25, as the outbound core records it) as the Encapsulated
# Document module's Verification Flag: preliminary is unverified; final and corrected
# are verified (a corrected version is the next Instance Number of the same series).
_VERIFICATION = {"P": "UNVERIFIED", "F": "VERIFIED", "C": "VERIFIED"}


def report(exam, version, result_status: str = "F") -> Dataset:
    """*Encapsulated PDF Storage* of a report version."""
    pdf = _read(version.file, "report")
    if not pdf.startswith(b"%PDF"):
        raise DeliveryFailed("The report file is not a PDF.", permanent=True)
    ds = header(exam, REPORT, "DOC")
    made = timezone.localtime(
        version.created_at or timezone.now(), ZoneInfo(exam.institution.time_zone or "UTC")
    )
    # SC Equipment: a document made by a workstation.
    ds.ConversionType = "WSD"
    # Encapsulated Document
    ds.InstanceNumber = version.version
    ds.ContentDate = values.da(made)
    ds.ContentTime = values.tm(made)
    ds.InstanceCreationDate = ds.ContentDate
    ds.InstanceCreationTime = ds.ContentTime
    ds.AcquisitionDateTime = values.da(made) + values.tm(made)
    ds.BurnedInAnnotation = "YES"
    title = values.text(version.name or "Ultrasound report", "ST")
    ds.DocumentTitle = title
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.VerificationFlag = _VERIFICATION.get(result_status or "F", "VERIFIED")
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.EncapsulatedDocument = pdf + (b"\x00" if len(pdf) % 2 else b"")
    return finish(
        ds, EncapsulatedPDFStorage, uids.report_uid(exam, version.version), ExplicitVRLittleEndian
    )


# --- research exports --------------------------------------------------------------------


def research(relpath: str) -> Dataset:
    """A research DICOM export from Clarius, as received (it keeps its own UIDs)."""
    from pydicom.errors import InvalidDicomError

    try:
        with storage.open_read(relpath) as f:
            ds = dcmread(f)
    except (OSError, ValueError, storage.StorageError) as e:
        raise DeliveryFailed(
            f"The research DICOM file is missing from the portal's storage ({e}).",
            permanent=True,
        ) from e
    except InvalidDicomError as e:
        raise DeliveryFailed(f"The research file is not DICOM ({e}).", permanent=True) from e
    if "SOPInstanceUID" not in ds or "SOPClassUID" not in ds:
        raise DeliveryFailed("The research file has no SOP Instance UID.", permanent=True)
    return ds
