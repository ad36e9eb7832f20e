"""Report versions: made (generated from the findings, or uploaded), stored, pushed.

Each version is a PDF under ``PORTAL_MEDIA_ROOT`` and a ``Report`` row that is due for its
push to Clarius as soon as the transaction that made it commits. The push's outcome is
recorded here (``mark_pushed``, ``mark_push_failed``), with ``portal.work``'s retry policy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from integrations.clarius.queue import enqueue
from portal import work
from portal.exams import media
from portal.exams.models import Exam
from portal.reports.models import Findings, Report
from portal.reports.pdf import render_report

PUSH_TASK = "portal.reports.tasks.push_report"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a report with a few images is well under 1 MB
PDF_MAGIC = b"%PDF-"


class ReportRefused(Exception):
    """A report that cannot be made as asked; the message says why, for the person asking."""


def signed_name(moment) -> str:
    return f"Ultrasound report — signed {timezone.localdate(moment).isoformat()}"


def addendum_name(number: int, moment) -> str:
    return f"Ultrasound report — addendum {number}, {timezone.localdate(moment).isoformat()}"


def report_relpath(exam, version: int) -> str:
    return f"{exam.institution_id}/{exam.exam_uuid}/reports/v{version:03d}.pdf"


def issue_generated_report(exam, user, name: str) -> Report:
    """A new version drawn from the exam's signed findings and addenda, due for its push."""
    findings = Findings.objects.filter(exam=exam).first()
    if findings is None or not findings.is_signed:
        raise ReportRefused("The findings are not signed yet: sign them to generate a report.")

    def write(path, submission, version):
        render_report(path, exam=exam, submission=submission, version=version)

    return _new_version(exam, user, name, Report.Source.GENERATED, write)


def issue_uploaded_report(exam, user, name: str, upload) -> Report:
    """A new version from a PDF made elsewhere (a Django ``UploadedFile``), due for its push."""
    check_uploaded_pdf(upload)

    def write(path, submission, version):
        upload.seek(0)
        with open(path, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)

    return _new_version(exam, user, name, Report.Source.UPLOADED, write)


def check_uploaded_pdf(upload) -> None:
    if upload.size > MAX_UPLOAD_BYTES:
        raise ReportRefused(
            f"The file is {upload.size} bytes; a report may be at most {MAX_UPLOAD_BYTES} bytes."
        )
    upload.seek(0)
    if upload.read(len(PDF_MAGIC)) != PDF_MAGIC:
        raise ReportRefused("The file is not a PDF (it does not start with %PDF-).")


def _new_version(exam, user, name: str, source: str, write: Callable) -> Report:
    name = name.strip()
    if not name:
        raise ReportRefused("A report needs a name.")
    with transaction.atomic():
        # The exam row is the lock that keeps version numbers in order.
        exam = Exam.objects.select_for_update().get(pk=exam.pk)
        submission = exam.submissions.order_by("-submitted_at", "-id").first()
        if submission is None:
            raise ReportRefused("This exam has no submission to send a report to.")
        version = (exam.reports.aggregate(top=Max("version"))["top"] or 0) + 1
        relpath = report_relpath(exam, version)
        path = media.absolute(relpath)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Should the transaction roll back, the file stays behind and is overwritten by
        # the next version to get this number: never served, since no row points at it.
        write(path, submission, version)
        report = Report(
            institution_id=exam.institution_id,
            exam=exam,
            submission=submission,
            version=version,
            name=name[:200],
            file=relpath,
            source=source,
            created_by=user,
            **_fingerprint(path),
        )
        work.schedule_now(report)
        report.save()
        enqueue(PUSH_TASK, report.pk)
    return report


def _fingerprint(path: Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


# The push's outcome -----------------------------------------------------------------


def mark_pushed(report: Report, receipt) -> None:
    """Clarius has the report. The exam is *reported* once no version is still on its way."""
    report.state = Report.State.PUSHED
    report.pushed_at = timezone.now()
    report.clarius_id = str((receipt.extra or {}).get("id", ""))[:100]
    with transaction.atomic():
        report.save(update_fields=["state", "pushed_at", "clarius_id", *work.finish(report)])
        exam = Exam.objects.select_for_update().get(pk=report.exam_id)
        still_pending = exam.reports.filter(state=Report.State.PENDING).exists()
        if not still_pending and exam.review_state != Exam.ReviewState.REPORTED:
            exam.review_state = Exam.ReviewState.REPORTED
            exam.save(update_fields=["review_state", "updated_at"])


def mark_push_failed(report: Report, error: str, *, permanent: bool) -> str:
    """Record a failed attempt: back off and retry, or give up to the visible *failed*."""
    gave_up, fields = work.fail(report, error, permanent=permanent)
    if gave_up:
        report.state = Report.State.FAILED
        fields.append("state")
    report.save(update_fields=fields)
    return "failed" if gave_up else "retry"


def retry_report(report: Report) -> bool:
    """Push again now (a person pressed "retry"). ``False`` if a worker holds it right now,
    or it was pushed already: a push never runs twice at once, and never again once done."""
    now = timezone.now()
    not_held = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    retried = (
        Report.objects.filter(pk=report.pk)
        .filter(Q(state=Report.State.FAILED) | Q(not_held, state=Report.State.PENDING))
        .update(state=Report.State.PENDING, attempts=0, next_attempt_at=now, claimed_until=None)
    )
    if retried:
        enqueue(PUSH_TASK, report.pk)
    return bool(retried)
