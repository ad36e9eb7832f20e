"""Turning fetched exam data into the institution's Exam, Submission, Patient and Captures.

Everything for one submission is written in one transaction, so an exam is never seen
half-written; running it twice for the same submission changes nothing that was done.

Text from Clarius reaches a column only through ``portal.text.clean_text``: NUL (which
PostgreSQL refuses), controls and bidi overrides removed, cut to the column's length.
The patient's unknown fields are capped in number, key length and value length; the
submission keeps the whole document as sent (``raw_document``), so nothing is lost.
The latest submission's application name, when Clarius sends one, proposes the exam type
(``portal.worksheets.proposing``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from typing import Any

from django.db import transaction

from integrations.clarius.api import documents as types
from integrations.clarius.models import NotificationReceipt
from portal import work
from portal.exams.models import Capture, Exam, Patient, Submission
from portal.exams.status import exam_status
from portal.text import clean_text, storable
from portal.worksheets.proposing import propose_exam_type

PATIENT_FIELDS = [
    f.name for f in dataclass_fields(types.Patient) if f.name not in ("extra", "date_of_birth")
]
# The patient's fields Clarius sends that the portal does not know: shown on the exam
# page as they are, so bounded here (the whole values stay in the raw document).
EXTRA_MAX_FIELDS = 50
EXTRA_KEY_LENGTH = 100
EXTRA_VALUE_LENGTH = 500
MORE_FIELDS_KEY = "…"
NOT_SHOWN = "(too long to show: see the exam's raw document)"
# A capture's media link; far longer than any real pre-signed URL.
URL_LENGTH = 10_000
# Where the exam data may name the application (preset), in the order they are read.
APPLICATION_KEYS = ("application", "preset", "exam_application", "applicationName")


def ingest_exam_data(receipt: NotificationReceipt, data: types.ExamData) -> list[int]:
    """Upsert the submission described by ``receipt`` + ``data``; the captures to download."""
    link = receipt.link
    institution = link.institution
    with transaction.atomic():
        exam, created = Exam.objects.select_for_update().get_or_create(
            institution=institution,
            exam_uuid=receipt.exam_uuid,
            defaults={
                "operator": link.user,
                "first_submitted_at": receipt.submitted_at,
                "last_submitted_at": receipt.submitted_at,
            },
        )
        is_latest = created or receipt.submitted_at >= exam.last_submitted_at
        if not created:
            exam.first_submitted_at = min(exam.first_submitted_at, receipt.submitted_at)
            exam.last_submitted_at = max(exam.last_submitted_at, receipt.submitted_at)
        raw_document = storable(data.document) if data.document is not None else {}
        submission, created_submission = Submission.objects.get_or_create(
            request_uuid=receipt.request_uuid,
            defaults={
                "institution": institution,
                "exam": exam,
                "submitted_at": receipt.submitted_at,
                "download_url": receipt.download_url,
                "raw_document": raw_document,
            },
        )
        if not created_submission and data.document is not None:
            submission.raw_document = raw_document
            submission.save(update_fields=["raw_document"])
        if is_latest and data.patient is not None:
            save_patient(exam, data.patient)
        if is_latest:
            propose_exam_type(exam, application_name(data), save=False)
        due = refresh_captures(exam, submission, data.captures)
        exam.status = exam_status(exam)
        exam.save()
    return due


def application_name(data: types.ExamData) -> str | None:
    """The application (preset) the exam was scanned with, when Clarius sends one.

    The exam data's content is configured per service (§4) and names no such field, so
    the usual spellings are looked for at its top level: the first that holds text (or
    an object with a ``name`` text) wins; anything else is not a name.
    """
    document = data.document if isinstance(data.document, Mapping) else data.extra
    for key in APPLICATION_KEYS:
        value = document.get(key)
        if isinstance(value, Mapping):
            value = value.get("name")
        if isinstance(value, str) and value.strip():
            return value
    return None


def column_text(model, name: str, value: Any) -> str:
    """``value`` cleaned and cut to the length of ``model``'s column ``name``."""
    return clean_text(value, max_length=model._meta.get_field(name).max_length)


def save_patient(exam: Exam, sent: types.Patient) -> Patient:
    values = {name: column_text(Patient, name, getattr(sent, name)) for name in PATIENT_FIELDS}
    extra = dict(sent.extra)
    values["date_of_birth"] = sent.date_of_birth
    raw_birth = extra.pop("date_of_birth", None)  # kept raw when it was not a plain date
    birth_text = extra_value(raw_birth) if raw_birth not in (None, "") else ""
    values["date_of_birth_text"] = column_text(Patient, "date_of_birth_text", birth_text)
    values["extra"] = capped_extra(extra)
    patient, _ = Patient.objects.update_or_create(
        exam=exam, defaults={"institution": exam.institution, **values}
    )
    return patient


def capped_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """Unknown fields as short, clean, displayable values: at most ``EXTRA_MAX_FIELDS``
    keys of ``EXTRA_KEY_LENGTH`` characters, each value at most ``EXTRA_VALUE_LENGTH``."""
    capped: dict[str, Any] = {}
    for key, value in extra.items():
        if len(capped) >= EXTRA_MAX_FIELDS:
            break
        name = clean_text(key, max_length=EXTRA_KEY_LENGTH).strip() or "?"
        if name not in capped:  # two keys that clean to one name: the first is shown
            capped[name] = extra_value(value)
    if len(extra) > len(capped):
        capped[MORE_FIELDS_KEY] = (
            f"{len(extra) - len(capped)} more field(s) in the exam's raw document"
        )
    return capped


def extra_value(value: Any) -> Any:
    """A short scalar stays as it is; text is cleaned and cut; anything else (an object,
    a list, a number of 5,000 digits) becomes its JSON text, cleaned and cut."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # jsonb has no NaN or infinity
    try:
        if isinstance(value, int | float) and len(str(value)) <= EXTRA_VALUE_LENGTH:
            return value
        if not isinstance(value, str):
            value = json.dumps(storable(value), ensure_ascii=False, default=str)
    except ValueError:  # an integer beyond Python's 4,300 digits for text
        return NOT_SHOWN
    return clean_text(value, max_length=EXTRA_VALUE_LENGTH)


def refresh_captures(exam: Exam, submission: Submission, links: list[types.CaptureLink]):
    """Create the submission's captures, or give the unfinished ones fresh links.

    Media links are short-lived, so each fetch of the exam data replaces the links of
    captures not yet downloaded. Returns the ids of captures due for download.
    """
    existing = {c.position: c for c in submission.captures.all()}
    due = []
    for position, link in enumerate(links):
        capture = existing.get(position)
        if capture is None:
            capture = Capture(
                institution=exam.institution,
                exam=exam,
                submission=submission,
                position=position,
                source_url=clean_text(link.url, max_length=URL_LENGTH),
            )
            work.schedule_now(capture)
            capture.save()
            due.append(capture.pk)
        elif capture.state == Capture.State.PENDING:
            capture.source_url = clean_text(link.url, max_length=URL_LENGTH)
            capture.save(update_fields=["source_url"])
            due.append(capture.pk)
    return due
