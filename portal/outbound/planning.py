"""What goes to each destination, and when: one durable row per object.

- The exam is ready (``exam.ready``): each image and clip to every active destination
  that takes images (``plan_exam``).
- A report version's PDF exists (signing, attestation, an addendum, an upload;
  ``portal.reports.issuing.plan_deliveries`` calls ``plan_report``): the version to every
  active destination that takes reports, with the result status the receiver files it as.
- An integration may add a file the core does not model (a research DICOM export) with
  ``plan_file``.

Planning is idempotent (unique rows), runs inside the transaction that made the change,
and nudges the new rows after the commit; the sweeper hands out any it missed.
"""

from __future__ import annotations

from django.utils import timezone

from portal import events
from portal.exams.captures import shown
from portal.exams.models import Capture, Exam
from portal.outbound import kinds
from portal.outbound.models import Destination, Transmission
from portal.work import registry

What = Transmission.What


def destinations_for(institution_id: int, *whats: str):
    """The active destinations of an institution that take any of ``whats`` (one query)."""
    wanted = "send_report" if whats == (What.REPORT,) else "send_images"
    rows = Destination.objects.filter(
        institution_id=institution_id, is_active=True, **{wanted: True}
    )
    return [d for d in rows if (k := kinds.get(d.kind)) is not None and set(whats) & set(k.carries)]


def what_of(capture: Capture) -> str:
    return What.IMAGE if capture.is_image else What.CLIP


def plan_exam(exam: Exam) -> list[Transmission]:
    """Every stored image and clip of the exam to each destination that takes it."""
    takers = {What.IMAGE: [], What.CLIP: []}
    for destination in destinations_for(exam.institution_id, What.IMAGE, What.CLIP):
        for what in takers:
            if what in destination.kind_entry.carries:
                takers[what].append(destination)
    if not any(takers.values()):
        return []  # most institutions: one query, nothing more
    # What the exam page and the FHIR ImagingStudy show: stored, without resubmitted copies.
    captures = shown(exam.captures.filter(state=Capture.State.DONE)).order_by("position", "pk")
    rows = []
    for capture in captures:
        what = what_of(capture)
        for destination in takers[what]:
            rows.append(_row(destination, exam, what, capture=capture))
    return _create(rows)


def plan_report(report) -> list[Transmission]:
    """The report version to each destination that takes reports."""
    exam = report.exam
    rows = []
    for destination in destinations_for(exam.institution_id, What.REPORT):
        status = result_status(report, destination)
        rows.append(_row(destination, exam, What.REPORT, report=report, result_status=status))
    return _create(rows)


def plan_file(exam: Exam, source: str, what: str = What.RESEARCH) -> list[Transmission]:
    """A stored file the core does not model, sent as received."""
    rows = [
        _row(destination, exam, what, source=source)
        for destination in destinations_for(exam.institution_id, what)
    ]
    return _create(rows)


def result_status(report, destination: Destination) -> str:
    """P while the exam awaits attestation; C once the receiver may hold an earlier
    final result (an addendum, or a replaced version); otherwise F."""
    exam = report.exam
    if exam.review_state == Exam.ReviewState.PRELIMINARY:
        return Transmission.ResultStatus.PRELIMINARY
    earlier_final = Transmission.objects.filter(
        destination=destination,
        exam=exam,
        what=What.REPORT,
        report__version__lt=report.version,
        result_status__in=[Transmission.ResultStatus.FINAL, Transmission.ResultStatus.CORRECTED],
    ).exists()
    if report.addenda_included or earlier_final:
        return Transmission.ResultStatus.CORRECTED
    return Transmission.ResultStatus.FINAL


def _row(destination, exam, what, **fields) -> Transmission:
    return Transmission(
        institution_id=exam.institution_id,
        destination=destination,
        exam=exam,
        what=what,
        next_attempt_at=timezone.now(),
        **fields,
    )


def _create(rows: list[Transmission]) -> list[Transmission]:
    if not rows:
        return []
    Transmission.objects.bulk_create(rows, ignore_conflicts=True)
    # ignore_conflicts leaves no primary keys: find the rows that are due now and new.
    created = Transmission.objects.filter(
        exam_id=rows[0].exam_id,
        state=Transmission.State.PENDING,
        attempts=0,
        claimed_until__isnull=True,
    ).values_list("pk", flat=True)
    pks = list(created)
    for pk in pks:
        registry.nudge_pk(Transmission, pk)
    return rows


def on_event(event_type: str, exam, **data) -> None:
    if event_type == events.EXAM_READY:
        plan_exam(exam)
