"""The exam notification endpoint Clarius calls (``/clarius/notifications/<secret>/``).

Clarius does not authenticate the call and never retries a failed one, so the view
must answer fast and must not lose what it accepted: it validates the body, writes the
receipt (one INSERT, one commit: the receipt is the worker's queue entry), and answers;
the worker is nudged after the answer, and fetching happens in the worker. Every call that
reaches the right URL is recorded, rejected ones with the reason.
"""

import logging
import re
import secrets
import time
import uuid
from datetime import UTC

from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from integrations.clarius.conf import api_url_refusal
from integrations.clarius.ingestion.notifications import nudge_fetch, record_notification
from integrations.clarius.models import NotificationEndpoint, NotificationReceipt
from portal.safejson import RefusedJSON, loads
from portal.text import clean_text, storable

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
REJECTED_BODY_KEPT = 4 * 1024
FIELDS = ("request_uuid", "exam_uuid", "customer_id", "download_url", "submitted_at")
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For", "X-Request-Id")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-.~]{8,200}$")
# A notification is one flat object; anything nested this deep is not one, and a bounded
# depth is what keeps a body of a thousand ``[`` from exhausting the parser's stack.
MAX_DEPTH = 16


class InvalidNotification(ValueError):
    pass


# The active secret, remembered for a few seconds: Clarius may call many times a second,
# and a rotation reaches the other processes within SECRET_TTL.
SECRET_TTL = 5.0
_secret_cache = {"value": None, "until": 0.0}


def forget_active_secret() -> None:
    _secret_cache["until"] = 0.0


def active_secret() -> str | None:
    now = time.monotonic()
    if now >= _secret_cache["until"]:
        current = NotificationEndpoint.objects.filter(is_active=True).values_list(
            "secret", flat=True
        )
        _secret_cache.update(value=next(iter(current), None), until=now + SECRET_TTL)
    return _secret_cache["value"]


def active_secret_matches(secret: str) -> bool:
    expected = active_secret()
    return expected is not None and secrets.compare_digest(secret.encode(), expected.encode())


def parse_notification(body: bytes) -> dict:
    """The five fields of a notification, typed; ``InvalidNotification`` says what is wrong."""
    try:
        # A key sent twice is refused: which of its values Clarius meant is a guess.
        payload = loads(body, max_depth=MAX_DEPTH, duplicates="reject")
    except RefusedJSON as e:
        raise InvalidNotification(f"body {e}") from None
    if not isinstance(payload, dict):
        raise InvalidNotification("body must be a JSON object")
    missing = [f for f in FIELDS if f not in payload]
    if missing:
        raise InvalidNotification(f"missing field(s): {', '.join(missing)}")
    wrong = [f for f in FIELDS if not isinstance(payload[f], str)]
    if wrong:
        raise InvalidNotification(f"field(s) must be strings: {', '.join(wrong)}")
    fields = {}
    for name in ("request_uuid", "exam_uuid"):
        try:
            fields[name] = uuid.UUID(payload[name])
        except ValueError:
            raise InvalidNotification(f"{name} is not a UUID") from None
    if not TOKEN_RE.match(payload["customer_id"]):
        raise InvalidNotification("customer_id is not a customer token")
    fields["customer_id"] = payload["customer_id"]
    url = payload["download_url"]
    if len(url) > 2000 or not url.startswith(("https://", "http://")):
        raise InvalidNotification("download_url is not an http(s) URL")
    if clean_text(url) != url:
        raise InvalidNotification("download_url holds control or invisible characters")
    fields["download_url"] = url
    try:
        submitted_at = parse_datetime(payload["submitted_at"])
    except ValueError:
        submitted_at = None
    if submitted_at is None:
        raise InvalidNotification("submitted_at is not an ISO 8601 timestamp")
    if submitted_at.tzinfo is None:
        submitted_at = submitted_at.replace(tzinfo=UTC)
    try:
        # Stored in UTC: "0001-01-01T00:00+05:00" has no UTC time a database can hold.
        fields["submitted_at"] = submitted_at.astimezone(UTC)
    except OverflowError:
        raise InvalidNotification("submitted_at is out of range") from None
    return fields


def request_metadata(request, body: bytes, keep: int = MAX_BODY) -> dict:
    """The call as received: the body's bytes exactly (NUL and invalid UTF-8 included)."""
    headers = {h: request.headers[h][:500] for h in KEPT_HEADERS if h in request.headers}
    return {
        "raw_body": bytes(body[:keep]),
        "headers": storable(headers),
        "remote_addr": request.META.get("REMOTE_ADDR") or None,
    }


def reject(request, body: bytes, reason: str, status: int) -> JsonResponse:
    reason = clean_text(reason, max_length=500)
    NotificationReceipt.objects.create(
        state=NotificationReceipt.State.REJECTED,
        rejection_reason=reason,
        # Enough to see what was sent; a flood of junk must not fill the database.
        **request_metadata(request, body, keep=REJECTED_BODY_KEPT),
    )
    logger.warning("rejected a Clarius notification: %s", reason)
    return JsonResponse({"status": "rejected", "reason": reason}, status=status)


class AcceptedResponse(JsonResponse):
    """The 202, with the worker nudged only once it is sent.

    The WSGI server closes a response after writing it; only then is the receipt's
    fetch nudged (``nudge_fetch``), so Clarius never waits for the queue.
    """

    def __init__(self, receipt):
        super().__init__({"status": "accepted"}, status=202)
        self.receipt = receipt

    def close(self):
        try:
            nudge_fetch(self.receipt)
        finally:
            super().close()


def accept(request, body: bytes, fields: dict) -> JsonResponse:
    """Store the receipt; on a duplicate ``request_uuid`` change nothing and still say 2xx."""
    receipt = record_notification(fields, **request_metadata(request, body))
    if receipt is None:
        # Clarius (or a replay) sent this request again; the first copy is what counts.
        return JsonResponse({"status": "duplicate"}, status=200)
    return AcceptedResponse(receipt)


@csrf_exempt
def notification(request, secret):
    """Validate, record, acknowledge. Fetching the exam happens later, in the worker."""
    if not active_secret_matches(secret):
        raise Http404("No such endpoint")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    body = request.read(MAX_BODY + 1) if declared <= MAX_BODY else b""
    if declared > MAX_BODY or len(body) > MAX_BODY:
        return reject(request, body, f"body larger than {MAX_BODY} bytes", status=413)
    try:
        fields = parse_notification(body)
    except InvalidNotification as e:
        return reject(request, body, str(e), status=400)
    refusal = api_url_refusal(fields["download_url"])
    if refusal:
        return reject(request, body, f"download_url refused: {refusal}", status=400)
    return accept(request, body, fields)
