"""Report versions: issued (from the findings, or uploaded), drawn, stored, delivered.

Issuing a version is quick: a ``Report`` row, due for its work as soon as the
transaction that made it commits. A version drawn from the findings starts *generating*
and the worker draws its PDF (``build_pdf``, ``mark_built``), so signing never waits on
WeasyPrint; an uploaded PDF is stored at once and starts *pending*. Then its deliveries,
one per destination (``portal.reports.delivering``). Both steps use ``portal.work``'s
retry policy.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.db.models import Case, Max, Q, Value, When
from django.utils import timezone

from portal import storage, work
from portal.exams.models import Exam
from portal.reports import destinations
from portal.reports.limits import REPORT_NAME_LIMIT
from portal.reports.models import Delivery, Findings, Report
from portal.tenants.timezones import local, zone_of
from portal.text import clean_text
from portal.work.registry import nudge

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a report with a few images is well under 1 MB
PDF_MAGIC = b"%PDF-"
COPY_CHUNK = 1024 * 1024


class ReportRefused(Exception):
    """A report that cannot be made as asked; the message says why, for the person asking.

    ``field`` names the request field at fault, when one is.
    """

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def _day(moment, institution) -> str:
    """The date of ``moment`` where the institution is (whatever zone the request runs in)."""
    return local(moment, zone_of(institution)).date().isoformat()


def signed_name(moment, institution) -> str:
    return f"Ultrasound report — signed {_day(moment, institution)}"


def preliminary_name(moment, institution) -> str:
    return (
        f"Preliminary ultrasound report — signed {_day(moment, institution)}, awaiting attestation"
    )


def attested_name(moment, institution) -> str:
    return f"Ultrasound report — attested {_day(moment, institution)}"


def addendum_name(number: int, moment, institution) -> str:
    return f"Ultrasound report — addendum {number}, {_day(moment, institution)}"


def report_relpath(exam, version: int) -> str:
    # A random part, so a file left by a version that was rolled back is never taken
    # for (or overwritten by) the next version to get its number.
    token = secrets.token_hex(4)
    return f"{exam.institution_id}/{exam.exam_uuid}/reports/v{version:03d}-{token}.pdf"


def clean_report_name(name) -> str:
    """The name Clarius will show: one line, no control or bidi characters, not empty."""
    name = clean_text(name).strip()
    if not name:
        raise ReportRefused("A report needs a name.", field="name")
    if len(name) > REPORT_NAME_LIMIT:
        raise ReportRefused(
            f"A report name has at most {REPORT_NAME_LIMIT} characters.", field="name"
        )
    return name


def issue_generated_report(exam, user, name: str) -> Report:
    """A new version drawn from the exam's signed findings and addenda.

    Nothing is drawn here: the row starts *generating* and the worker makes the PDF.
    """
    name = clean_report_name(name)
    findings = Findings.objects.filter(exam=exam).first()
    if findings is None or not findings.is_signed:
        raise ReportRefused("The findings are not signed yet: sign them to generate a report.")
    return _new_version(exam, user, name, Report.Source.GENERATED)


def issue_uploaded_report(exam, user, name: str, upload) -> Report:
    """A new version from a PDF made elsewhere (a Django ``UploadedFile``), due for its push.

    The file is copied to scratch space first and stored under its final name in the
    transaction that makes the row; if anything fails, neither the row nor the file is left.
    """
    name = clean_report_name(name)
    check_uploaded_pdf(upload)
    staged = _stage(exam, upload)
    try:
        return _new_version(exam, user, name, Report.Source.UPLOADED, staged)
    finally:
        staged.path.unlink(missing_ok=True)  # the scratch copy; the stored one stays


def check_uploaded_pdf(upload) -> None:
    if not upload.size:
        raise ReportRefused("The file is empty.")
    if upload.size > MAX_UPLOAD_BYTES:
        raise ReportRefused(
            f"The file is {upload.size} bytes; a report may be at most {MAX_UPLOAD_BYTES} bytes."
        )
    upload.seek(0)
    if upload.read(len(PDF_MAGIC)) != PDF_MAGIC:
        raise ReportRefused("The file is not a PDF (it does not start with %PDF-).")


@dataclass
class Staged:
    path: Path
    size: int
    sha256: str


def _stage(exam, upload) -> Staged:
    """The upload copied to this node's scratch space, measured and hashed on the way (the
    size the client declared may be a lie); stored under its final name only with its row."""
    fd, name = tempfile.mkstemp(prefix="report-upload-", suffix=".pdf", dir=storage.scratch_dir())
    path = Path(name)
    digest, size = hashlib.sha256(), 0
    try:
        upload.seek(0)
        with os.fdopen(fd, "wb") as out:
            for chunk in upload.chunks(COPY_CHUNK):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise ReportRefused(f"A report may be at most {MAX_UPLOAD_BYTES} bytes.")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Staged(path, size, digest.hexdigest())


def _new_version(exam, user, name: str, source: str, staged: Staged | None = None) -> Report:
    placed = None
    try:
        with transaction.atomic():
            # The exam row is the lock that keeps version numbers in order.
            exam = Exam.objects.select_for_update().get(pk=exam.pk)
            submission = exam.submissions.order_by("-submitted_at", "-id").first()
            if submission is None:
                raise ReportRefused("This exam has no submission to send a report to.")
            version = (exam.reports.aggregate(top=Max("version"))["top"] or 0) + 1
            report = Report(
                institution_id=exam.institution_id,
                exam=exam,
                submission=submission,
                version=version,
                name=name,
                file=report_relpath(exam, version),
                source=source,
                addenda_included=exam.addenda.count(),
                state=Report.State.GENERATING,
                created_by=user,
            )
            if staged is not None:
                # Committed whole with the checksum it was uploaded with, or not at all.
                placed = report.file
                storage.save_file(placed, staged.path, expected_sha256=staged.sha256)
                report.size, report.sha256 = staged.size, staged.sha256
                report.state = Report.State.PENDING
            work.schedule_now(report)
            report.save()
            if report.state == Report.State.PENDING:
                plan_deliveries(report)
            nudge(report)
    except BaseException:
        if placed is not None:
            storage.delete(placed)  # its row was never committed
        raise
    return report


# Drawing the PDF (the worker's half of a generated version) --------------------------


def build_pdf(report: Report) -> dict:
    """Draw the version's PDF to its file; returns its size and checksum."""
    from portal.reports.pdf import render_report  # WeasyPrint: only the worker needs it

    exam = Exam.objects.select_related("institution", "operator").get(pk=report.exam_id)
    # Drawn on this node's scratch disk, then stored whole (or not at all) under its name.
    with tempfile.TemporaryDirectory(prefix="report-", dir=storage.scratch_dir()) as folder:
        path = Path(folder) / "report.pdf"
        render_report(
            path,
            exam=exam,
            submission=report.submission,
            version=report.version,
            addenda=report.addenda_included,
        )
        size = path.stat().st_size
        sha256 = storage.save_file(report.file, path)
    return {"size": size, "sha256": sha256}


def mark_built(report: Report, fingerprint: dict) -> bool:
    """The PDF is there: the version is due for its deliveries now, with attempts of their
    own; the delivery rows are made in the same transaction."""
    with transaction.atomic():
        built = Report.objects.filter(pk=report.pk, state=Report.State.GENERATING).update(
            state=Report.State.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            claimed_until=None,
            last_error="",
            **fingerprint,
        )
        if built:
            plan_deliveries(report)
    return bool(built)


def mark_build_failed(report: Report, error: str) -> str:
    """A failed drawing is retried with the one policy, then shown as *failed*."""
    outcome, fields = work.fail_or_give_up(report, f"making the PDF failed: {error}")
    report.save(update_fields=fields)
    return outcome


def retry_report(report: Report) -> bool:
    """Start again now (a person pressed "retry"). ``False`` if a worker holds it right now,
    or it was delivered already: a version is never worked on twice at once, nor sent
    again to a destination that has it. A version whose PDF was never made goes back to
    *generating*; the others retry their failed or waiting deliveries."""
    now = timezone.now()
    not_held = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    with transaction.atomic():
        retried = (
            Report.objects.filter(pk=report.pk)
            .filter(Q(state=Report.State.FAILED) | Q(not_held, state__in=Report.UNDER_WAY))
            .update(
                state=Case(
                    When(size__isnull=True, then=Value(Report.State.GENERATING)),
                    default=Value(Report.State.PENDING),
                ),
                attempts=0,
                next_attempt_at=now,
                claimed_until=None,
            )
        )
        if retried:
            Delivery.objects.filter(report_id=report.pk).exclude(state=Delivery.State.SENT).filter(
                not_held
            ).update(
                state=Delivery.State.PENDING, attempts=0, next_attempt_at=now, claimed_until=None
            )
            if report.size is not None:
                plan_deliveries(report)  # a destination added since it was issued
            nudge(report)
    return bool(retried)


def plan_deliveries(report: Report) -> None:
    """One delivery per destination that accepts this version, due now (idempotent);
    and the version to each of the institution's PACS and EHR destinations that take
    reports (``portal.outbound``), each an object of its own."""
    from portal.outbound.planning import plan_report

    plan_report(report)
    now = timezone.now()
    Delivery.objects.bulk_create(
        [
            Delivery(
                institution_id=report.institution_id,
                report_id=report.pk,
                destination=destination.key,
                next_attempt_at=now,
            )
            for destination in destinations.for_report(report)
        ],
        ignore_conflicts=True,
    )
