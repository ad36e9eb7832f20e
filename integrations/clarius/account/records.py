"""Clarius' log of its webhook calls, matched to the receipts the portal wrote.

Clarius never retries a notification, so its log is how an operator finds the ones the
portal never got. Each record names its request in the JSON it sent; the portal looks
those up in one query per page and can ingest a missing one exactly as the catch-up
poll would (``catchup.record_unseen``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from integrations.clarius.api.documents import ExamDownload, NotificationRecord
from integrations.clarius.api.errors import InvalidResponse
from integrations.clarius.ingestion.catchup import normalised_uuid, record_unseen
from integrations.clarius.models import NotificationReceipt
from portal.safejson import loads as load_json

PAGE_SIZE = 50


def sent_json(event):
    """The JSON body Clarius' log says it sent (``ValueError`` if it is not JSON).

    Parsed as the webhook would parse it: bounded nesting, a key sent twice refused.
    """
    from integrations.clarius.ingestion.webhooks import MAX_DEPTH

    return load_json(event.request.content, max_depth=MAX_DEPTH)


@dataclass
class RecordRow:
    record: NotificationRecord
    request_uuid: str | None
    receipt: NotificationReceipt | None = None

    @property
    def event(self):
        return self.record.event

    @property
    def status(self) -> int | None:
        return self.event.status_code if self.event else None

    @property
    def failed(self) -> bool:
        """No answer, an error, or an answer that was not 2xx."""
        status = self.status
        return bool(self.event and (self.event.error or not status or status >= 300))

    @property
    def outcome(self) -> str:
        if self.event and self.event.error:
            return self.event.error
        return f"HTTP {self.status}" if self.status else "no answer"

    @property
    def can_ingest(self) -> bool:
        return self.receipt is None and download_of(self.record) is not None


def request_uuid_of(event) -> str | None:
    try:
        return normalised_uuid(sent_json(event).get("request_uuid"))
    except (AttributeError, TypeError, ValueError):
        return None


def download_of(record: NotificationRecord) -> ExamDownload | None:
    """The notification the record says Clarius sent, parsed like an accessible exam."""
    try:
        return ExamDownload.from_json(sent_json(record.event))
    except (AttributeError, TypeError, ValueError, InvalidResponse):
        return None  # no request, not JSON, or not a notification


def record_rows(client, *, offset=0, limit=PAGE_SIZE, failures_only=False):
    """``(rows, more)``: one page of records newest first, each matched to its receipt."""
    records = client.iter_notification_records(limit=limit + 1)
    if failures_only:
        records = (r for r in records if RecordRow(r, None).failed)
    page = list(islice(records, offset, offset + limit + 1))
    rows = [RecordRow(record, request_uuid_of(record.event)) for record in page[:limit]]
    uuids = {row.request_uuid for row in rows if row.request_uuid}
    receipts = {
        str(receipt.request_uuid): receipt
        for receipt in NotificationReceipt.objects.filter(request_uuid__in=uuids)
    }
    for row in rows:
        row.receipt = receipts.get(row.request_uuid or "")
    return rows, len(page) > limit


class CannotIngest(Exception):
    pass


def ingest(client, request_uuid: str) -> dict:
    """Record the request Clarius says it notified as a receipt, and queue its fetch.

    The record is looked up at Clarius again rather than taken from the form: what gets
    ingested is what Clarius sent, not what a browser posted.
    """
    wanted = normalised_uuid(request_uuid)
    if wanted is None:
        raise CannotIngest("Not a request UUID.")
    if NotificationReceipt.objects.filter(request_uuid=wanted).exists():
        raise CannotIngest(f"The portal already has request {wanted}.")
    for record in client.iter_notification_records():
        download = download_of(record)
        if download is not None and normalised_uuid(download.request_uuid) == wanted:
            counts = record_unseen([download])
            if counts["rejected"]:
                raise CannotIngest(
                    f"Clarius' record of {wanted} is incomplete or points off the Clarius "
                    "API; nothing was recorded."
                )
            return counts
    raise CannotIngest(f"Clarius has no notification record of request {wanted}.")
