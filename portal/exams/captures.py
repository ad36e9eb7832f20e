"""What a downloaded capture is to its exam: the one rule for resubmissions.

Clarius sends every capture of an exam again with each later submission (a
resubmission), so the same image arrives twice. A capture whose content (SHA-256) an
earlier downloaded capture of the same exam already has is a *duplicate*: it points at
that original (``duplicate_of``), shares its stored file, and is never shown or counted.
Any other capture that arrives once the findings are signed is *after signing*, and
flags the exam (``Exam.new_images_since_signing``) until an addendum refers to it.

Integrations that download captures call ``record_downloaded`` in the transaction that
records a capture as done; pages and the API list captures through ``shown``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from portal import storage
from portal.exams.models import Capture, Exam
from portal.exams.status import update_exam_status

logger = logging.getLogger(__name__)

# The fields a duplicate takes from its original: the same bytes, the same file.
SHARED_FIELDS = ("file", "thumbnail", "content_type", "size", "width", "height")


def shown(captures: QuerySet) -> QuerySet:
    """``captures`` without duplicates: what the exam page, the API and counts show."""
    return captures.filter(duplicate_of__isnull=True)


# Key images when the reviewer chose none: the first few stills of the exam.
DEFAULT_KEY_IMAGES = 6


def stills(exam) -> QuerySet:
    """The exam's still images, each once, in gallery order: what may be a key image."""
    return (
        shown(exam.captures)
        .filter(state=Capture.State.DONE, content_type__startswith="image/")
        .order_by("submission__submitted_at", "position", "id")
    )


@dataclass(frozen=True)
class Recorded:
    duplicate_of: Capture | None
    after_signing: bool


def record_downloaded(capture: Capture) -> Recorded:
    """Save ``capture``, downloaded (state *done*, file, ``sha256`` set), as what it is
    to its exam, and store the exam's status.

    Call it inside a transaction. The exam row is locked first, so two resubmissions
    downloading the same image at once are serialised: the first becomes the original,
    the second its duplicate. A duplicate's row is pointed at the original's file before
    anything is removed, and its own new files are deleted only once the transaction
    committed; a rollback leaves them to the caller's clean-up, and the original's files
    are never touched. A duplicate emits no event of its own.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_downloaded must run inside a transaction")
    exam = Exam.objects.select_for_update().get(pk=capture.exam_id)
    original = _original_of(capture)
    if original is not None:
        own_files = {capture.file, capture.thumbnail} - {original.file, original.thumbnail, ""}
        capture.duplicate_of = original
        capture.after_signing = False
        for name in SHARED_FIELDS:
            setattr(capture, name, getattr(original, name))
        capture.save()
        transaction.on_commit(lambda: _remove(own_files))
        # A resubmission that brought nothing new does not announce the exam again.
        announce = shown(
            Capture.objects.filter(submission_id=capture.submission_id, state=Capture.State.DONE)
        ).exists()
        update_exam_status(exam.pk, announce=announce)
        return Recorded(original, False)
    capture.duplicate_of = None
    capture.after_signing = is_signed(exam)
    capture.save()
    if capture.after_signing and not exam.new_images_since_signing:
        exam.new_images_since_signing = True
        exam.save(update_fields=["new_images_since_signing", "updated_at"])
    update_exam_status(exam.pk)
    return Recorded(None, capture.after_signing)


def is_signed(exam: Exam) -> bool:
    """Whether the exam's findings were signed (the first signature stays on the exam)."""
    if exam.signed_at is not None:
        return True
    return Exam.objects.filter(pk=exam.pk, findings__signed_at__isnull=False).exists()


def _original_of(capture: Capture) -> Capture | None:
    if not capture.sha256:
        return None
    return (
        Capture.objects.filter(
            exam_id=capture.exam_id,
            state=Capture.State.DONE,
            duplicate_of__isnull=True,
            sha256=capture.sha256,
        )
        .exclude(pk=capture.pk)
        .order_by("pk")
        .first()
    )


def _remove(relpaths: set[str]) -> None:
    for relpath in relpaths:
        try:
            storage.delete(relpath)
        except Exception:  # noqa: BLE001 - a leftover copy is logged, never a failed ingest
            logger.exception("could not remove the duplicate file %s", relpath)
