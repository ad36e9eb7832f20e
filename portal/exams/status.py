"""An exam's status, decided by its captures: the one rule, whoever changed a capture.

*Receiving* while any capture is still pending, else *incomplete* when one failed, else
*ready*. Integrations that download captures call ``update_exam_status`` in the
transaction that records a capture's outcome.
"""

from __future__ import annotations

from portal import events
from portal.exams.models import Capture, Exam


def exam_status(exam: Exam) -> str:
    """The status ``exam``'s captures give it (one query)."""
    states = set(exam.captures.values_list("state", flat=True))
    if Capture.State.PENDING in states:
        return Exam.Status.RECEIVING
    if Capture.State.FAILED in states:
        return Exam.Status.INCOMPLETE
    return Exam.Status.READY


def update_exam_status(exam_id: int, *, announce: bool = True) -> None:
    """Lock the exam and store the status its captures give it, if that changed.

    Call it inside a transaction: the row lock keeps two workers finishing the last two
    captures from both reading the older state. An exam becoming *ready* emits
    ``exam.ready`` (``portal.events``) in that transaction, unless ``announce`` is false
    (a resubmission that only sent captures the exam already had).
    """
    exam = Exam.objects.select_for_update().get(pk=exam_id)
    status = exam_status(exam)
    if status != exam.status:
        exam.status = status
        exam.save(update_fields=["status", "updated_at"])
        if status == Exam.Status.READY and announce:
            events.emit(events.EXAM_READY, exam)
