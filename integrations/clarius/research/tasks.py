"""Background work of the Research API: DICOM exports and raw-data downloads.

Same policy as ``integrations/clarius/tasks.py``: claim the row, do the work, record
the outcome with ``portal.work``. "Still being processed" is not a failure of ours: it is
retried with the usual backoff, and a one-off django-q2 schedule wakes the row up when it
is due.
(Both kinds are registered with the sweeper, for queue messages lost on Redis.)
"""

from __future__ import annotations

import logging
from contextlib import ExitStack, closing
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from integrations.clarius.api.errors import ClariusError, MediaTooLarge, OriginRefused
from integrations.clarius.models import DicomExport, RawDataFile
from integrations.clarius.research import onward
from integrations.clarius.research import service as research
from integrations.clarius.staging import clear, download
from portal import storage, work
from portal.text import clean_text
from portal.work.registry import nudge_at

logger = logging.getLogger(__name__)

DICOM_TYPES = {"application/dicom": ".dcm", "application/zip": ".zip"}
RAW_SUFFIXES = {".tar", ".gz", ".tgz", ".zip", ".raw", ".bin", ".lzo"}


def run_dicom_export(export_id: int) -> str:
    export = work.claim(DicomExport, export_id, state=DicomExport.State.PENDING)
    if export is None:
        return "not due"
    export = DicomExport.objects.select_related("exam").get(pk=export.pk)
    folder, stem = research.research_dir(export.exam), f"dicom-{export.pk}"
    clear(folder, stem)

    def name_for(kind, declared):
        return f"{folder}/{stem}{DICOM_TYPES[kind]}" if kind in DICOM_TYPES else None

    with ExitStack() as stack:
        try:
            with closing(research.client_for(export.requested_by)) as client:
                answer = client.export_dicom(str(export.exam.exam_uuid), **export.parameters)
                result = stack.enter_context(
                    download(client, answer.download_url, name_for, local_copy=True)
                )
        except research.NotConnected:
            return failed(export, "The research account that asked was disconnected.", True)
        except ClariusError as e:
            permanent = e.permanent or isinstance(e, MediaTooLarge | OriginRefused)
            return failed(export, research.explain(e), permanent)
        kind = result.sniffed_type
        if result.name is None:
            return failed(export, f"Clarius' link returned {kind or 'an unknown type'}, not DICOM.")
        relpath = result.name
        try:
            tags = research.dicom_tags(result.copy, kind)
        except ValueError as e:
            storage.delete(relpath)
            return failed(export, f"Clarius' file is {e}.")
    export.state, export.file, export.content_type = DicomExport.State.DONE, relpath, kind
    export.size, export.sha256, export.tags = result.size, result.sha256, tags
    export.finished_at = timezone.now()
    work.finish(export)
    export.save()  # every field changed: tags, file, state and the work fields
    onward.plan(export)  # each DICOM file of it to the institution's PACS destinations
    return "done"


def failed(row, message: str, permanent: bool = True) -> str:
    """Record a failed attempt; retry later unless it is permanent or attempts ran out."""
    outcome, fields = work.fail_or_give_up(
        row, clean_text(message, multiline=True), permanent=permanent
    )
    with transaction.atomic():
        row.save(update_fields=fields)
        if outcome == "retry":
            nudge_at(row)
    return outcome


def download_raw_data(file_id: int) -> str:
    row = work.claim(RawDataFile, file_id, state=RawDataFile.State.PENDING)
    if row is None:
        return "not due"
    row = RawDataFile.objects.select_related("exam").get(pk=row.pk)
    folder, stem = research.research_dir(row.exam), f"raw-{row.capture_uuid}"
    clear(folder, stem)
    try:
        # Links last 7 days, but the listing is the only place to get one: ask for it now.
        with closing(research.client_for(row.requested_by)) as client:
            captures = client.list_raw_data(str(row.exam.exam_uuid))
            link = next(
                (c.raw_image for c in captures if c.capture_uuid == str(row.capture_uuid)), None
            )
            if not link:
                return failed(row, "Clarius lists no raw data for this capture.")
            suffix = PurePosixPath(urlsplit(link).path).suffix.lower()
            relpath = f"{folder}/{stem}{suffix if suffix in RAW_SUFFIXES else '.bin'}"
            with download(client, link, lambda kind, declared: relpath) as result:
                pass
    except research.NotConnected:
        return failed(row, "The research account that asked was disconnected.")
    except ClariusError as e:
        permanent = e.permanent or isinstance(e, MediaTooLarge | OriginRefused)
        return failed(row, research.explain(e), permanent)
    row.state, row.file = RawDataFile.State.DONE, relpath
    row.size, row.sha256, row.downloaded_at = result.size, result.sha256, timezone.now()
    work.finish(row)
    row.save()
    return "done"
