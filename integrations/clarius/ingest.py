"""Turning fetched exam data into the institution's Exam, Submission, Patient and Captures.

Everything for one submission is written in one transaction, so an exam is never seen
half-written; running it twice for the same submission changes nothing that was done.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields

from django.db import transaction

from integrations.clarius import types
from integrations.clarius.models import NotificationReceipt
from portal import work
from portal.exams.models import Capture, Exam, Patient, Submission

PATIENT_FIELDS = [
    f.name for f in dataclass_fields(types.Patient) if f.name not in ("extra", "date_of_birth")
]


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
        submission, _ = Submission.objects.get_or_create(
            request_uuid=receipt.request_uuid,
            defaults={
                "institution": institution,
                "exam": exam,
                "submitted_at": receipt.submitted_at,
                "download_url": receipt.download_url,
            },
        )
        if is_latest and data.patient is not None:
            save_patient(exam, data.patient)
        due = refresh_captures(exam, submission, data.captures)
        exam.status = exam_status(exam)
        exam.save()
    return due


def save_patient(exam: Exam, sent: types.Patient) -> Patient:
    values = {name: (getattr(sent, name) or "")[:200] for name in PATIENT_FIELDS}
    extra = dict(sent.extra)
    values["date_of_birth"] = sent.date_of_birth
    raw_birth = extra.pop("date_of_birth", None)  # kept raw when it was not a plain date
    values["date_of_birth_text"] = str(raw_birth)[:50] if raw_birth else ""
    values["extra"] = extra
    patient, _ = Patient.objects.update_or_create(
        exam=exam, defaults={"institution": exam.institution, **values}
    )
    return patient


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
                source_url=link.url,
            )
            work.schedule_now(capture)
            capture.save()
            due.append(capture.pk)
        elif capture.state == Capture.State.PENDING:
            capture.source_url = link.url
            capture.save(update_fields=["source_url"])
            due.append(capture.pk)
    return due


def exam_status(exam: Exam) -> str:
    states = set(exam.captures.values_list("state", flat=True))
    if Capture.State.PENDING in states:
        return Exam.Status.RECEIVING
    if Capture.State.FAILED in states:
        return Exam.Status.INCOMPLETE
    return Exam.Status.READY
