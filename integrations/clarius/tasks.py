"""Background work with Clarius: confirm links, fetch exams, download media, catch up.

Each task is a nudge for one database row: it claims the row (so no two workers run
it), does the work, and records the outcome with the one retry policy in
``portal.work``. Running a task twice, or for a row that is not due, does nothing.
The sweeper re-enqueues whatever is due, so a lost queue message only delays work.
"""

from __future__ import annotations

import copy
import logging
from contextlib import ExitStack, closing

from django.db import transaction
from django.utils import timezone

from integrations.clarius import clients
from integrations.clarius.api.errors import ClariusError, MediaTooLarge, NotFound, OriginRefused
from integrations.clarius.ingestion import linking, media_fetch
from integrations.clarius.ingestion.ingest import ingest_exam_data, refresh_captures
from integrations.clarius.models import (
    ClariusLink,
    NotificationReceipt,
)
from integrations.clarius.staging import clear, download
from portal import storage, work
from portal.exams import media
from portal.exams.captures import record_downloaded
from portal.exams.models import Capture
from portal.exams.status import update_exam_status
from portal.text import clean_text
from portal.work.queueing import enqueue

logger = logging.getLogger(__name__)


# Customer confirmation ---------------------------------------------------------------


def confirm_link(link_id: int) -> str:
    link = work.claim(ClariusLink, link_id, state=ClariusLink.State.PENDING)
    if link is None:
        return "not due"
    try:
        with closing(clients.service_client()) as client:
            client.confirm_customer(link.token)
    except NotFound:
        linking.mark_rejected(
            link, "Clarius does not know this account (customer confirmation answered 404)."
        )
        return "rejected"
    except ClariusError as e:
        gave_up, fields = work.fail(link, str(e), permanent=e.permanent)
        if gave_up:
            linking.mark_rejected(link, f"Confirmation failed: {e}")
            return "failed"
        link.save(update_fields=fields)
        return "retry"
    assigned = linking.mark_confirmed(link)
    logger.info("confirmed link %s; %d waiting notification(s) assigned", link.pk, assigned)
    return "confirmed"


# Exam data ---------------------------------------------------------------------------


def fetch_receipt(receipt_id: int) -> str:
    receipt = work.claim(
        NotificationReceipt,
        receipt_id,
        related=("link__institution", "link__user"),
        state=NotificationReceipt.State.PENDING,
    )
    if receipt is None:
        return "not due"
    try:
        with closing(clients.service_client()) as client:
            data = client.get_exam_data(receipt.download_url)
        due = ingest_exam_data(receipt, data)
    except ClariusError as e:
        return fetch_failed(receipt, str(e), permanent=e.permanent)
    except Exception as e:  # noqa: BLE001 - the exam must never be dropped unseen
        # Anything else (a bug, a value the database refused) is recorded on the receipt
        # and retried by the one policy; the ingest transaction left nothing half-written.
        logger.exception("could not store the exam data of receipt %s", receipt.pk)
        return fetch_failed(
            receipt, f"could not store the exam data: {type(e).__name__}: {e}", permanent=False
        )
    receipt.state = NotificationReceipt.State.FETCHED
    receipt.fetched_at = timezone.now()
    receipt.save(update_fields=["state", "fetched_at", *work.finish(receipt)])
    # Its captures are downloaded here, a few at once, not queued one task each: one trip
    # through the broker per exam, not per capture (ingestion/media_fetch.py).
    media_fetch.download_captures(due, prepare_capture, record_captures)
    return "fetched"


def fetch_failed(receipt: NotificationReceipt, error: str, *, permanent: bool) -> str:
    # The error may quote what Clarius sent: cleaned, so the text column can hold it.
    outcome, fields = work.fail_or_give_up(
        receipt, clean_text(error, multiline=True), permanent=permanent
    )
    receipt.save(update_fields=fields)
    return outcome


# Media -------------------------------------------------------------------------------


def download_capture(capture_id: int) -> str:
    prepared = prepare_capture(capture_id)
    return prepared if isinstance(prepared, str) else record_capture(prepared)


def prepare_capture(capture_id: int) -> str | Capture:
    """Claim the capture, download it and make its preview: the capture ready to record
    (``record_capture``), or the outcome when there is nothing to record."""
    capture = work.claim(
        Capture, capture_id, related=("exam", "submission"), state=Capture.State.PENDING
    )
    if capture is None:
        return "not due"
    if capture.attempts > work.MAX_ATTEMPTS:
        # Each claim counts an attempt and every attempt that ends records its outcome, so
        # a count past the limit means the last attempts ended with no outcome at all: the
        # worker died (killed, or crashed in a media decoder on hostile bytes). Give up
        # visibly instead of handing the capture out again on every lease.
        discard_capture_files(capture)
        return capture_failed(
            capture,
            f"gave up: attempt {capture.attempts - 1} of {work.MAX_ATTEMPTS} ended without "
            "an outcome (the worker stopped during the download or while reading the media)",
            permanent=True,
        )
    try:
        return fetch_capture(capture)
    except Exception as e:  # noqa: BLE001 - a capture must never be re-run unseen forever
        return could_not_store(capture, e)


def could_not_store(capture: Capture, e: Exception) -> str:
    # Anything not from Clarius (a full disk, a bug, a value the database refused):
    # recorded on the capture, with no partial file left, and retried by the one policy
    # until it gives up in the visible *failed* state.
    logger.exception("could not store capture %s", capture.pk)
    discard_capture_files(capture)
    error = clean_text(f"could not store the capture: {type(e).__name__}: {e}", multiline=True)
    return capture_failed(capture, error, permanent=False)


def fetch_capture(capture: Capture) -> str | Capture:
    """Download and preview the claimed ``capture``: it, its fields set, or the outcome of
    a download that failed (recorded)."""
    folder, stem = media.capture_dir(capture), f"{capture.position:03d}"
    clear(folder, stem)

    def name_for(kind, declared):
        # Only media we keep is stored; anything else is refused from its first bytes.
        return media.capture_relpath(capture, kind) if kind in media.ALLOWED_TYPES else None

    with ExitStack() as stack:
        try:
            result = stack.enter_context(
                download(clients.media_client(), capture.source_url, name_for, local_copy=True)
            )
        except ClariusError as e:
            # An expired or refused link is fixed by a fresh one from the exam data; a
            # file over the cap or a link off the allowed origins will not get better.
            permanent = isinstance(e, (MediaTooLarge, OriginRefused))
            return capture_failed(capture, str(e), permanent=permanent, fresh_links=not permanent)
        kind = result.sniffed_type
        if result.name is None:
            return capture_failed(
                capture,
                f"refused media of type {kind or 'unknown'} "
                f"(declared {result.content_type or 'nothing'})",
                permanent=True,
            )
        thumb_rel = media.thumbnail_relpath(capture)
        # The media passed the size cap and its signature is one we keep, so it is what
        # Clarius holds for this capture: a preview that cannot be made (damaged or
        # hostile bytes, a codec the decoder lacks) does not fail it. The capture is kept
        # and served as received, the exam can become ready, and the reason is shown on
        # the capture.
        try:
            size, preview_error = media.make_preview(result.copy, kind, thumb_rel), ""
        except media.PreviewFailed as e:
            size, preview_error = None, clean_text(f"no preview could be made: {e}", multiline=True)
        frame_rate = media.clip_frame_rate(result.copy) if kind == "video/mp4" else None
    capture.state = Capture.State.DONE
    capture.file, capture.content_type = result.name, kind
    capture.size, capture.sha256 = result.size, result.sha256
    capture.thumbnail = thumb_rel if size else ""
    capture.width, capture.height = size if size else (None, None)
    capture.frame_rate = frame_rate
    capture.downloaded_at = timezone.now()
    work.finish(capture)
    capture.last_error = preview_error[: work.ERROR_LIMIT]
    return capture


def record_capture(capture: Capture) -> str:
    """Record a prepared capture (``prepare_capture``) in its own transaction."""
    try:
        with transaction.atomic():
            # The core decides what the capture is to its exam: a copy of one it already
            # has (a resubmission: the new file is dropped after the commit) or new,
            # perhaps after the findings were signed.
            recorded = record_downloaded(capture)
    except Exception as e:  # noqa: BLE001 - as in prepare_capture
        return could_not_store(capture, e)
    return "duplicate" if recorded.duplicate_of else "done"


def record_captures(captures: list[Capture]) -> list[str]:
    """Record prepared captures of one exam together: one transaction, so one wait for
    the exam's lock and one commit instead of one each (they finish downloading at
    about the same moment). Should that transaction fail, each is recorded on its own,
    from the state it was prepared in."""
    if len(captures) == 1:
        return [record_capture(captures[0])]
    # Recording changes the rows in memory (a duplicate takes its original's files):
    # a rolled-back batch must not leave that behind for the second try.
    prepared = [copy.copy(capture) for capture in captures]
    try:
        with transaction.atomic():
            recorded = [record_downloaded(capture) for capture in captures]
    except Exception:  # noqa: BLE001 - each alone, with its own outcome
        logger.warning("recording %d captures together failed; each alone", len(captures))
        return [record_capture(capture) for capture in prepared]
    return ["duplicate" if r.duplicate_of else "done" for r in recorded]


def discard_capture_files(capture: Capture) -> None:
    """Remove whatever an unfinished attempt left for this capture (partial download,
    stored file, thumbnail): a capture that is not done has no file."""
    try:
        storage.discard(f"{media.capture_dir(capture)}/{capture.position:03d}.")
    except Exception:  # noqa: BLE001 - the sweep of partial writes catches what is left
        logger.exception("could not remove the files of capture %s", capture.pk)


def capture_failed(capture: Capture, error: str, *, permanent: bool, fresh_links=False) -> str:
    outcome, fields = work.fail_or_give_up(capture, error, permanent=permanent)
    with transaction.atomic():
        capture.save(update_fields=fields)
        if outcome == "failed":
            update_exam_status(capture.exam_id)
    if fresh_links and outcome == "retry":
        # Media links are short-lived: the next attempt gets a fresh one.
        enqueue(refresh_links, capture.submission_id)
    return outcome


def refresh_links(submission_id: int) -> str:
    from portal.exams.models import Submission

    submission = Submission.objects.select_related("exam").filter(pk=submission_id).first()
    if submission is None:
        return "gone"
    try:
        with closing(clients.service_client()) as client:
            data = client.get_exam_data(submission.download_url)
    except ClariusError as e:
        logger.warning("could not refresh media links of %s: %s", submission, e)
        return "kept old links"
    with transaction.atomic():
        refresh_captures(submission.exam, submission, data.captures)
    return "refreshed"


# Catch-up ---------------------------------------------------------------------------


def poll() -> dict:
    from integrations.clarius.ingestion.catchup import poll_accessible
    from integrations.clarius.ingestion.notifications import assign_stranded

    # First, and whether or not Clarius answers: nothing it holds is needed for this.
    stranded = assign_stranded()
    with closing(clients.service_client()) as client:
        return {**poll_accessible(client), "stranded_assigned": stranded}


def reconcile() -> dict:
    from integrations.clarius.ingestion.catchup import reconcile_links

    with closing(clients.service_client()) as client:
        return reconcile_links(client)
