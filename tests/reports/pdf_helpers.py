"""Findings made directly (not through review.py) and the report PDF drawn from them."""

import io
import re
from datetime import datetime

from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from portal import storage
from portal.exams import media
from portal.exams.models import Capture, Exam
from portal.reports.models import Addendum, Findings
from portal.reports.pdf import render_report
from portal.worksheets.models import ExamType

FIELDS = {
    "indication": "Right upper quadrant pain after meals.",
    "views_obtained": "",
    "findings": "Multiple mobile echogenic foci with posterior shadowing.\nNo wall thickening.",
    "impression": "Cholelithiasis without cholecystitis.",
    "image_quality": 4,
    "clinician_feedback": "Good sweep; add a view of the duct at the porta next time.",
}
SIGNED_AT = timezone.make_aware(datetime(2026, 3, 4, 9, 30), timezone.get_fixed_timezone(0))


def signed(exam, signer, **fields):
    """``exam``'s findings, signed by ``signer`` with FIELDS (and ``fields``) set."""
    findings = Findings.objects.filter(exam=exam).first() or Findings(
        institution=exam.institution, exam=exam
    )
    for name, value in {**FIELDS, "signed_at": SIGNED_AT, **fields}.items():
        setattr(findings, name, value)
    findings.signed_by = signer
    findings.save()
    return findings


def lung(institution):
    """The institution's lung exam type and its current worksheet template."""
    exam_type = ExamType.objects.get(institution=institution, code="lung")
    return exam_type, exam_type.templates.order_by("-version").first()


def addendum(exam, user, number, text, captures=()):
    row = Addendum.objects.create(
        institution=exam.institution,
        exam=exam,
        number=number,
        text=text,
        signed_by=user,
        signed_at=SIGNED_AT + timezone.timedelta(days=number),
    )
    row.captures.set(captures)
    return row


def jpeg_captures(exam, count, size=(64, 48)):
    """``count`` decodable JPEG captures added to the exam's submission, in order."""
    submission = exam.submissions.get()
    start = exam.captures.count()
    made = []
    for position in range(start, start + count):
        capture = Capture(
            institution=exam.institution,
            exam=exam,
            submission=submission,
            position=position,
            source_url="https://example.invalid/",
            state=Capture.State.DONE,
            content_type="image/jpeg",
        )
        capture.file = media.capture_relpath(capture, "image/jpeg")
        buffer = io.BytesIO()
        Image.new("RGB", size, (position * 40 % 255, 90, 120)).save(buffer, "JPEG")
        storage.save_bytes(capture.file, buffer.getvalue())
        capture.save()
        made.append(capture)
    return made


def draw(exam, path, *, version=1, addenda=None):
    """The PDF of ``exam`` (read afresh, as the worker does) at ``path``: reader and text."""
    exam = Exam.objects.select_related("institution", "operator").get(pk=exam.pk)
    render_report(
        path, exam=exam, submission=exam.submissions.first(), version=version, addenda=addenda
    )
    reader = PdfReader(path)
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def flat(text):
    return re.sub(r"\s+", " ", text)


def images_in(reader):
    """How many pictures the document holds (WeasyPrint's pages share one resource list)."""
    return len({image.name for page in reader.pages for image in page.images})
