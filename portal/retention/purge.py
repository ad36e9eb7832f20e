"""Finding the exams whose media is due, and purging one exam's media as durable work.

- ``due_exams``: the exams of institutions with a retention period whose findings were
  signed (and, for a trainee's signature, attested) at least that many days ago and
  that still have media to remove.
- ``plan_purges`` (the daily schedule, and ``manage.py purge_media``): one
  ``MediaPurge`` row per such exam, made due (a finished row is made due again when a
  capture arrived since).
- ``purge_exam`` (the row's task): claim the row, delete the files, mark the captures.

Every step can be interrupted and done again: a file already gone counts as removed;
``media_purged_at`` (and the row's counters, in the same transaction) are written only
after the file was deleted, and only on captures not marked yet, so a purge resumed by
another worker counts each capture once. A stored file another exam's capture still
needs is left in place (the captures of this exam are marked all the same).

``PORTAL_PURGE_PAUSE_SECONDS`` (environment, default 0): a pause between files, to
spread a large purge's deletes over time on a busy store.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from portal import storage, work
from portal.exams.models import AuditEvent, Capture, Exam
from portal.registries import Registry
from portal.retention.models import MediaPurge
from portal.tenants.models import Institution
from portal.work import registry

logger = logging.getLogger(__name__)

PLAN_MINUTES = 24 * 60
PURGE_ACTION = AuditEvent.Action.PURGE_MEDIA
# Only a final signature starts the clock: a trainee's awaits the attending, who needs
# the media to attest it.
FINAL_STATES = (Exam.ReviewState.SIGNED, Exam.ReviewState.REPORTED)


@dataclass(frozen=True)
class ExamFiles:
    """Other full-size media files of an exam an app keeps (research downloads): rows
    of ``model`` with an ``exam`` foreign key, a stored ``file`` and its ``size``. The
    purge deletes each file and then its row."""

    model: type
    what: str

    @property
    def key(self) -> type:
        return self.model

    def rows(self, exam_id):
        return self.model._default_manager.filter(exam_id=exam_id).exclude(file="")


_exam_files: Registry[ExamFiles] = Registry("exam media kind")


def register_exam_files(model: type, what: str) -> ExamFiles:
    """Called by the app owning ``model`` in its ``ready()``."""
    return _exam_files.register(ExamFiles(model, what))


def purgeable_captures(exam_id):
    return Capture.objects.filter(exam_id=exam_id, media_purged_at__isnull=True).exclude(file="")


def cutoff(institution: Institution, now=None):
    """Exams signed at or before this moment are due; ``None``: the media is kept."""
    if institution.media_retention_days is None:
        return None
    return (now or timezone.now()) - timedelta(days=institution.media_retention_days)


def is_due(exam: Exam, institution: Institution, now=None) -> bool:
    limit = cutoff(institution, now)
    return (
        limit is not None
        and exam.signed_at is not None
        and exam.signed_at <= limit
        and exam.review_state in FINAL_STATES
    )


def due_exams(institution: Institution | None = None, now=None):
    """(institution, exams queryset) for each institution with a retention period."""
    now = now or timezone.now()
    institutions = Institution.objects.filter(media_retention_days__isnull=False)
    if institution is not None:
        institutions = institutions.filter(pk=institution.pk)
    for inst in institutions.order_by("pk"):
        has_media = Q(Exists(purgeable_captures(OuterRef("pk"))))
        for kind in _exam_files.all():
            has_media |= Q(Exists(kind.rows(OuterRef("pk"))))
        exams = Exam.objects.filter(
            institution=inst,
            signed_at__isnull=False,
            signed_at__lte=cutoff(inst, now),
            review_state__in=FINAL_STATES,
        ).filter(has_media)
        yield inst, exams


def plan_purges(institution: Institution | None = None, *, nudge: bool = True, now=None) -> int:
    """Make a due ``MediaPurge`` row for every exam whose media is due; how many.

    ``nudge``: queue each row's task (the schedule); the command runs them itself.
    """
    now = now or timezone.now()
    planned = 0
    for inst, exams in due_exams(institution, now):
        days = timedelta(days=inst.media_retention_days)
        rows = list(exams.values_list("pk", "signed_at"))
        if not rows:
            continue
        with transaction.atomic():
            existing = {
                purge.exam_id: purge
                for purge in MediaPurge.objects.filter(exam_id__in=[pk for pk, _ in rows])
            }
            new = [
                MediaPurge(
                    institution=inst,
                    exam_id=pk,
                    due_at=signed + days,
                    next_attempt_at=now,
                )
                for pk, signed in rows
                if pk not in existing
            ]
            MediaPurge.objects.bulk_create(new, batch_size=500)
            # A finished or given-up row with media left (a capture downloaded since, a
            # policy switched on again): due again, its counters those of the new run. A
            # pending row is left as it is (held by a worker, or backing off): its
            # counters are those of the run it resumes.
            again = [p.pk for p in existing.values() if p.state != MediaPurge.State.PENDING]
            MediaPurge.objects.filter(pk__in=again).update(
                state=MediaPurge.State.PENDING,
                attempts=0,
                next_attempt_at=now,
                claimed_until=None,
                finished_at=None,
                captures_purged=0,
                files_deleted=0,
                bytes_deleted=0,
                research_files_deleted=0,
            )
            if nudge:
                for purge in MediaPurge.objects.filter(
                    exam_id__in=[pk for pk, _ in rows], state=MediaPurge.State.PENDING
                ).only("pk"):
                    registry.nudge(purge)
        planned += len(rows)
    return planned


def purge_exam(purge_id: int) -> str:
    """The worker's task for one row: the outcome, in a word."""
    purge = work.claim(
        MediaPurge,
        purge_id,
        state=MediaPurge.State.PENDING,
        related=("exam", "institution"),
    )
    if purge is None:
        return "not due"
    try:
        return _purge(purge)
    except work.ClaimLost:
        raise  # another worker owns the row now: nothing of ours to record
    except Exception as e:  # noqa: BLE001 - a store that is away: retried by the one policy
        logger.exception("media purge %s of exam %s failed", purge.pk, purge.exam_id)
        outcome, fields = work.fail_or_give_up(purge, f"{type(e).__name__}: {e}")
        purge.save(update_fields=fields)
        return outcome


def _purge(purge: MediaPurge) -> str:
    exam, institution = purge.exam, purge.institution
    if not is_due(exam, institution):
        # The policy changed since the row was made (a longer period, "never").
        return _end(purge, MediaPurge.State.SKIPPED)
    pause = float(os.environ.get("PORTAL_PURGE_PAUSE_SECONDS") or 0)
    # Each stored file once, with the captures naming it (a resubmission's duplicate
    # shares its original's) and its size counted once.
    files: dict[str, tuple[list[int], int]] = {}
    for pk, name, size in (
        purgeable_captures(exam.pk).order_by("pk").values_list("pk", "file", "size")
    ):
        ids, largest = files.get(name, ([], 0))
        files[name] = ([*ids, pk], max(largest, size or 0))
    needed_elsewhere = _needed_elsewhere(exam, files)
    for name, (ids, size) in files.items():
        _purge_file(purge, name, ids, size, keep=name in needed_elsewhere)
        if pause:
            time.sleep(pause)
    for kind in _kinds_with_rows(exam):
        for row in kind.rows(exam.pk).order_by("pk"):
            _purge_exam_file(purge, row)
    return _end(purge, MediaPurge.State.DONE)


def _needed_elsewhere(exam: Exam, files) -> set[str]:
    """The files another exam's kept capture still names.

    A file in the exam's own folder (``media.capture_dir``) is the exam's alone: only a
    duplicate of the same exam shares it, and those are purged together. Any other name
    (media stored by an older release, moved by hand) is looked up (the file column has
    no index, so only then).
    """
    own = f"{exam.institution_id}/{exam.exam_uuid}/"
    others = [name for name in files if not name.startswith(own)]
    if not others:
        return set()
    return set(
        Capture.objects.filter(file__in=others, media_purged_at__isnull=True)
        .exclude(exam_id=exam.pk)
        .values_list("file", flat=True)
    )


def _kinds_with_rows(exam: Exam) -> list[ExamFiles]:
    """The registered kinds of research files the exam has (one query for all)."""
    kinds = _exam_files.all()
    if not kinds:
        return []
    flags = (
        Exam.objects.filter(pk=exam.pk)
        .annotate(**{f"has_{i}": Exists(kind.rows(exam.pk)) for i, kind in enumerate(kinds)})
        .values_list(*[f"has_{i}" for i in range(len(kinds))])
        .get()
    )
    return [kind for kind, present in zip(kinds, flags, strict=True) if present]


def _purge_file(purge: MediaPurge, name: str, ids: list[int], size: int, *, keep: bool) -> None:
    """Delete one stored file, then mark the captures naming it (``keep``: another
    exam's capture still needs the file, so only the captures are marked)."""
    if not keep:
        storage.delete(name)  # a file already gone is not an error: it is removed
    with transaction.atomic():
        marked = Capture.objects.filter(pk__in=ids, media_purged_at__isnull=True).update(
            media_purged_at=timezone.now(), file=""
        )
        if marked:
            _count(
                purge,
                captures_purged=marked,
                files_deleted=0 if keep else 1,
                bytes_deleted=0 if keep else size,
            )


def _purge_exam_file(purge: MediaPurge, row) -> None:
    storage.delete(row.file)
    with transaction.atomic():
        if type(row)._default_manager.filter(pk=row.pk).delete()[0]:
            _count(purge, research_files_deleted=1, bytes_deleted=row.size or 0)


COUNTERS = ("captures_purged", "files_deleted", "bytes_deleted", "research_files_deleted")


def _count(purge: MediaPurge, **amounts) -> None:
    """Add to the row's counters, only while this worker's claim holds the row.

    The row in hand keeps the same sums: it was read by the claim (with what an
    interrupted run counted), and nobody else adds while the claim holds.
    """
    token = purge.last_attempt_at
    updated = MediaPurge.objects.filter(pk=purge.pk, last_attempt_at=token).update(
        **{field: F(field) + amount for field, amount in amounts.items()}
    )
    if not updated:
        raise work.ClaimLost(f"media purge {purge.pk}: the claim of {token} was taken over")
    for field, amount in amounts.items():
        setattr(purge, field, getattr(purge, field) + amount)


def _end(purge: MediaPurge, state: str) -> str:
    now = timezone.now()
    with transaction.atomic():
        purge.state = state
        purge.finished_at = now
        purge.save(update_fields=["state", "finished_at", *work.finish(purge)])
        if any(getattr(purge, field) for field in COUNTERS):
            audit(purge, now)
    return state


def audit(purge: MediaPurge, now) -> AuditEvent:
    """The purge's entry in the institution's audit log: counts and bytes, no patient data.

    One per run of the row: a row purged again later (a capture that arrived since)
    writes another entry, with what that run removed.
    """
    institution = purge.institution
    return AuditEvent.objects.create(
        institution=institution,
        user=None,
        action=PURGE_ACTION,
        object_type="exam",
        object_id=str(purge.exam_id),
        detail={
            "captures": purge.captures_purged,
            "files": purge.files_deleted,
            "research_files": purge.research_files_deleted,
            "bytes": purge.bytes_deleted,
            "retention_days": institution.media_retention_days,
            "signed_at": purge.exam.signed_at.isoformat(),
            "purged_at": now.isoformat(),
        },
    )
