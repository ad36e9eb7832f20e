"""Many exams with stored media, made in bulk (a thousand in a few seconds)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from portal import storage
from portal.exams import media
from portal.exams.models import Capture, Exam, Patient, Submission
from portal.reports.models import Report

MEDIA = b"\xff\xd8\xff\xe0" + b"m" * 60  # a few bytes stand for an image
THUMB = b"\xff\xd8\xff\xe0thumb"
PDF = b"%PDF-1.4 report"


@dataclass
class Built:
    exams: list[Exam] = field(default_factory=list)
    captures: list[Capture] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)


def exams(
    institution,
    count: int,
    *,
    signed_days_ago: float | None,
    review_state=Exam.ReviewState.SIGNED,
    captures: int = 1,
    duplicate: bool = False,
    report: bool = False,
    patient_name: str = "",
) -> Built:
    """``count`` exams, each with ``captures`` stored captures (file and thumbnail), a
    duplicate of the first sharing its file (``duplicate``), and a report PDF."""
    now = timezone.now()
    signed = None if signed_days_ago is None else now - timedelta(days=signed_days_ago)
    if signed is None:
        review_state = Exam.ReviewState.NEW
    made = Exam.objects.bulk_create(
        Exam(
            institution=institution,
            exam_uuid=uuid.uuid4(),
            status=Exam.Status.READY,
            review_state=review_state,
            signed_at=signed,
            first_submitted_at=now - timedelta(days=400),
            last_submitted_at=now - timedelta(days=400),
        )
        for _ in range(count)
    )
    if patient_name:
        first, _, last = patient_name.partition(" ")
        Patient.objects.bulk_create(
            Patient(institution=institution, exam=e, first_name=first, last_name=last) for e in made
        )
    subs = Submission.objects.bulk_create(
        Submission(
            institution=institution,
            exam=e,
            request_uuid=uuid.uuid4(),
            submitted_at=now,
            download_url="https://cloud.clarius.com/x/",
        )
        for e in made
    )
    rows, writes = [], []
    for exam, sub in zip(made, subs, strict=True):
        for position in range(captures):
            capture = Capture(
                institution=institution,
                exam=exam,
                submission=sub,
                position=position,
                source_url="https://example.invalid/",
                state=Capture.State.DONE,
                content_type="image/jpeg",
                size=len(MEDIA),
                sha256=f"{exam.pk:032x}{position:032x}",
            )
            capture.file = media.capture_relpath(capture, "image/jpeg")
            capture.thumbnail = media.thumbnail_relpath(capture)
            writes += [(capture.file, MEDIA), (capture.thumbnail, THUMB)]
            rows.append(capture)
    made_captures = Capture.objects.bulk_create(rows)
    if duplicate:
        originals = [c for c in made_captures if c.position == 0]
        dupes = [
            Capture(
                institution=institution,
                exam_id=c.exam_id,
                submission_id=c.submission_id,
                position=captures,
                source_url="https://example.invalid/",
                state=Capture.State.DONE,
                content_type=c.content_type,
                size=c.size,
                sha256=c.sha256,
                file=c.file,
                thumbnail=c.thumbnail,
                duplicate_of=c,
            )
            for c in originals
        ]
        made_captures += Capture.objects.bulk_create(dupes)
    built = Built(exams=made, captures=made_captures)
    if report:
        for exam, sub in zip(made, subs, strict=True):
            name = f"{institution.pk}/{exam.exam_uuid}/report-v1.pdf"
            writes.append((name, PDF))
            built.reports.append(
                Report(
                    institution=institution,
                    exam=exam,
                    submission=sub,
                    version=1,
                    name="Report",
                    file=name,
                    size=len(PDF),
                    source=Report.Source.GENERATED,
                    state=Report.State.PUSHED,
                )
            )
        Report.objects.bulk_create(built.reports)
    store(writes)
    return built


def store(writes: list[tuple[str, bytes]]) -> None:
    """Save the files through the portal's storage, one after the other (several at
    once were no faster against the test's S3 server)."""
    for name, data in writes:
        storage.save_bytes(name, data)
