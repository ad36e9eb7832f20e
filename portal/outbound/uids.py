"""DICOM UIDs that are stable per exam and per object, so resending replaces.

Everything is under the ``2.25`` root (a UUID as a decimal integer, ISO/IEC 9834-8), so
no organisation root is needed. The Study Instance UID is the exam's UUID itself; series
and instances are name-based (UUID5) UUIDs within it. The DICOM objects, the FHIR
ImagingStudy and the HL7 message all read these functions, so they always agree.
"""

from __future__ import annotations

import uuid


def _uid(value: uuid.UUID) -> str:
    return f"2.25.{value.int}"


def _named(exam, name: str) -> str:
    return _uid(uuid.uuid5(exam.exam_uuid, name))


def study_uid(exam) -> str:
    return _uid(exam.exam_uuid)


# One series per kind of object: the images, the clips, the report versions.
def series_uid(exam, what: str) -> str:
    return _named(exam, f"series:{what}")


def series_number(what: str) -> int:
    return {"image": 1, "clip": 2, "report": 90, "research": 50}.get(what, 99)


def capture_uid(exam, capture) -> str:
    return _named(exam, f"capture:{capture.pk}")


def report_uid(exam, version: int) -> str:
    return _named(exam, f"report:{version}")


def for_transmission(transmission) -> str:
    """The SOP Instance UID of what a transmission carries (research files keep theirs)."""
    if transmission.capture_id:
        return capture_uid(transmission.exam, transmission.capture)
    if transmission.report_id:
        return report_uid(transmission.exam, transmission.report.version)
    return ""
