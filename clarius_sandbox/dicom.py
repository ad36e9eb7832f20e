"""DICOM export (§10): parameter validation and a real Part-10 ultrasound file.

The parameters are validated strictly against the reference's table (vendor spelling of
``nonheirarchical`` included) so a client that sends a typo'd value hears 400 here
rather than in production. Unknown parameter names are ignored, as a DRF serializer
would, but every request is recorded on the exam exactly as received.

Known simplification: the pixel data is always written uncompressed (Explicit VR Little
Endian) whatever ``syntax`` asks for; the requested syntax is recorded and echoed in the
file's Derivation Description.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
import zoneinfo
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundImageStorage

from . import imaging, patients
from .state import DicomExport, SandboxExam, SandboxUser, seed_of

SYNTAXES = ("jpeg lossless nonheirarchical process 14", "jpeg ls lossless")
DEMOGRAPHICS = (
    "PATIENT_NAME",
    "PATIENT_ID",
    "PATIENT_GENDER",
    "PATIENT_DATE_OF_BIRTH",
    "INSTITUTION_NAME",
    "INSTITUTION_ADDRESS",
    "OPERATOR_ID",
    "EXAM_DATE",
    "PROBE_MODEL",
    "APPLICATION",
    "ACOUSTIC_INDICES",
)
FLAGS = (
    "b_image_only",
    "include_annotations",
    "include_demographics",
    "include_measurements",
    "include_scan_parameters",
)
DEFAULTS: dict[str, Any] = {
    "syntax": SYNTAXES[0],
    "resolution": "1024x768",
    "demographics": list(DEMOGRAPHICS),
    "tz": "UTC",
    **dict.fromkeys(FLAGS, False),
}
_RESOLUTION = re.compile(r"^(\d{1,5})x(\d{1,5})$")
MIN_SIDE, MAX_SIDE = 32, 4096
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
INSTITUTION = ("Sandbox Valley Clinic", "1 Probe Street, Vancouver BC")


def validate(received: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """``(params with defaults, field errors)``; errors empty when valid."""
    params = dict(DEFAULTS)
    errors: dict[str, list[str]] = {}
    for name in FLAGS:
        if name in received:
            value = _boolean(received[name])
            if value is None:
                errors[name] = ["Must be a valid boolean."]
            else:
                params[name] = value
    if "syntax" in received:
        if received["syntax"] in SYNTAXES:
            params["syntax"] = received["syntax"]
        else:
            errors["syntax"] = [f'"{received["syntax"]}" is not a valid choice.']
    if "resolution" in received:
        match = _RESOLUTION.match(str(received["resolution"]))
        sides = [int(n) for n in match.groups()] if match else []
        if not sides or not all(MIN_SIDE <= n <= MAX_SIDE for n in sides):
            errors["resolution"] = [
                f"Use <width>x<height>, each between {MIN_SIDE} and {MAX_SIDE}, e.g. 1024x768."
            ]
        else:
            params["resolution"] = f"{sides[0]}x{sides[1]}"
    if "demographics" in received:
        chosen = _string_list(received["demographics"])
        if chosen is None:
            errors["demographics"] = ["Expected a list of items."]
        elif bad := [d for d in chosen if d not in DEMOGRAPHICS]:
            errors["demographics"] = [f'"{d}" is not a valid choice.' for d in bad]
        else:
            params["demographics"] = chosen
    if "tz" in received:
        try:
            zoneinfo.ZoneInfo(str(received["tz"]))
            params["tz"] = str(received["tz"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["tz"] = [f'"{received["tz"]}" is not a valid time zone.']
    return params, errors


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _string_list(value: Any) -> list[str] | None:
    """A JSON list, repeated form fields, or one comma-separated string."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _uid(*parts: str) -> str:
    """A DICOM UID under the 2.25 (UUID) root, stable for the same parts."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, '/'.join(parts)).int}"


def _overlay_lines(params: dict[str, Any], exam: SandboxExam, moment: dt.datetime) -> list[str]:
    if params["b_image_only"]:
        return []
    lines: list[str] = []
    patient = exam.patient
    if params["include_demographics"]:
        values = {
            "PATIENT_NAME": patients.display_name(patient),
            "PATIENT_ID": patient.get("identifier", ""),
            "PATIENT_GENDER": patient.get("gender", ""),
            "PATIENT_DATE_OF_BIRTH": patient.get("date_of_birth", ""),
            "INSTITUTION_NAME": INSTITUTION[0],
            "INSTITUTION_ADDRESS": INSTITUTION[1],
            "OPERATOR_ID": exam.customer_token[:8],
            "EXAM_DATE": moment.strftime("%Y-%m-%d %H:%M %Z"),
            "PROBE_MODEL": exam.probe_model,
            "APPLICATION": exam.application,
            "ACOUSTIC_INDICES": "MI 0.9  TIb 0.3  TIs 0.2",
        }
        lines += [f"{values[name]}" for name in params["demographics"] if values[name]]
    if params["include_scan_parameters"]:
        lines.append(f"{exam.probe_model}  D 12.0cm  G 50%  DR 60dB")
    if params["include_measurements"]:
        lines.append("D1  2.31 cm")
    if params["include_annotations"]:
        lines.append(exam.application.upper())
    return lines


def render_pixels(params: dict[str, Any], exam: SandboxExam, moment: dt.datetime) -> np.ndarray:
    """The first capture as RGB at the requested resolution, letterboxed, with overlays."""
    seed = exam.captures[0].seed if exam.captures else seed_of(exam.exam_uuid)
    width, height = (int(n) for n in params["resolution"].split("x"))
    source = imaging.bmode_image(seed)
    scale = min(width / source.width, height / source.height)
    fitted = source.resize(
        (max(1, round(source.width * scale)), max(1, round(source.height * scale))),
        Image.BILINEAR,
    )
    canvas = Image.new("RGB", (width, height))
    canvas.paste(
        fitted.convert("RGB"), ((width - fitted.width) // 2, (height - fitted.height) // 2)
    )
    if params["include_measurements"] and not params["b_image_only"]:
        draw = ImageDraw.Draw(canvas)
        y = height // 2
        draw.line([(width * 0.4, y), (width * 0.6, y)], fill=(0, 255, 0), width=2)
    canvas = imaging.annotate(canvas, _overlay_lines(params, exam, moment))
    return np.asarray(canvas.convert("RGB"), dtype=np.uint8)


def build(export: DicomExport, exam: SandboxExam, user: SandboxUser) -> bytes:
    """A Part-10 file: Ultrasound Image Storage, one RGB frame."""
    params = export.params
    moment = exam.created_at.astimezone(zoneinfo.ZoneInfo(params["tz"]))
    pixels = render_pixels(params, exam, moment)
    patient = exam.patient
    sop_uid = _uid("instance", export.export_id)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = UltrasoundImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = _uid("study", exam.exam_uuid)
    ds.SeriesInstanceUID = _uid("series", exam.exam_uuid)
    ds.Modality = "US"
    ds.Manufacturer = "Clarius Mobile Health (sandbox)"
    ds.ManufacturerModelName = exam.probe_model
    ds.DeviceSerialNumber = exam.probe_serial
    ds.InstitutionName = INSTITUTION[0]
    ds.InstitutionAddress = INSTITUTION[1]
    ds.OperatorsName = user.name
    ds.StudyDate = ds.ContentDate = moment.strftime("%Y%m%d")
    ds.StudyTime = ds.ContentTime = moment.strftime("%H%M%S")
    offset = moment.utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds() // 60)
    ds.TimezoneOffsetFromUTC = (
        f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    )
    ds.StudyDescription = exam.application
    ds.StudyID = exam.exam_uuid[:16]
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    if "animal_name" in patient:
        ds.PatientName = str(patient["animal_name"])
        ds.PatientSpeciesDescription = str(patient.get("animal_type", ""))
        ds.ResponsiblePerson = str(patient.get("owner_name", ""))
    else:
        ds.PatientName = "^".join(
            str(patient.get(k, "")) for k in ("last_name", "first_name", "middle_name")
        ).rstrip("^")
    ds.PatientID = str(patient.get("identifier", ""))
    ds.PatientBirthDate = str(patient.get("date_of_birth", "")).replace("-", "")
    ds.PatientSex = {"male": "M", "female": "F", "other": "O"}.get(patient.get("gender", ""), "")
    burned_in = not params["b_image_only"] and any(
        params[f] for f in FLAGS if f.startswith("include_")
    )
    ds.BurnedInAnnotation = "YES" if burned_in else "NO"
    ds.DerivationDescription = f"sandbox export; requested syntax: {params['syntax']}"

    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = pixels.shape[0], pixels.shape[1]
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()

    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
