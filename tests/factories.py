"""Exams made directly in the database, for tests that are not about ingestion."""

import hashlib
import uuid

from django.utils import timezone

from portal import storage
from portal.exams import media
from portal.exams.models import Capture, Exam, Patient, Submission

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


def make_exam(institution, operator=None, *, patient_name="Pat Example", captures=1, **fields):
    now = timezone.now()
    exam = Exam.objects.create(
        institution=institution,
        exam_uuid=uuid.uuid4(),
        operator=operator,
        status=fields.pop("status", Exam.Status.READY),
        first_submitted_at=fields.pop("submitted_at", now),
        last_submitted_at=now,
        **fields,
    )
    first, _, last = patient_name.partition(" ")
    Patient.objects.create(
        institution=institution,
        exam=exam,
        identifier=f"MRN-{exam.pk}",
        first_name=first,
        last_name=last,
    )
    submission = Submission.objects.create(
        institution=institution,
        exam=exam,
        request_uuid=uuid.uuid4(),
        submitted_at=now,
        download_url="https://cloud.clarius.com/api/public/v0/x/",
    )
    for position in range(captures):
        capture = Capture(
            institution=institution,
            exam=exam,
            submission=submission,
            position=position,
            source_url="https://example.invalid/",
            state=Capture.State.DONE,
            content_type="image/png",
            size=len(PNG),
            sha256=hashlib.sha256(PNG).hexdigest(),
        )
        capture.file = media.capture_relpath(capture, "image/png")
        storage.save_bytes(capture.file, PNG)
        capture.save()
    return exam


def mark_delivered(report):
    """As if every destination took the version: its deliveries sent, the version settled."""
    from portal.reports.delivering import settle
    from portal.reports.issuing import plan_deliveries
    from portal.reports.models import Delivery, Report

    report = Report.objects.get(pk=report.pk)
    if report.state == Report.State.GENERATING:
        Report.objects.filter(pk=report.pk).update(state=Report.State.PENDING, size=1)
        report.refresh_from_db()
    plan_deliveries(report)
    Delivery.objects.filter(report=report).update(
        state=Delivery.State.SENT, sent_at=timezone.now(), next_attempt_at=None
    )
    settle(report)


def add_stored_capture(exam, content_type: str, data: bytes, **fields) -> Capture:
    """A downloaded capture of the exam's submission, its file stored as the
    ingestion stores one (next position; ``fields`` such as width, height, frame_rate)."""
    capture = Capture(
        institution=exam.institution,
        exam=exam,
        submission=exam.submissions.get(),
        position=exam.captures.count(),
        source_url="https://example.invalid/",
        state=Capture.State.DONE,
        content_type=content_type,
        **fields,
    )
    capture.file = media.capture_relpath(capture, content_type)
    storage.save_bytes(capture.file, data)
    capture.save()
    return capture
