"""The Clarius side of the webhook benchmark (this process, after Django is set up).

Linked users, the sandbox's settings, the receipts the webhook stored, the tasks it
queued, and exams timed from the sandbox's upload until they are ready. The Clarius
integration's modules are imported here only.
"""

from __future__ import annotations

import secrets
import time

from bench.lib import BenchError, seed
from bench.lib.load import EXAM_UUID, REQUEST_UUID, Body


def seed_links(sandbox_token: str) -> dict:
    """One institution, two clinicians with confirmed links: ``load`` (a token the sandbox
    does not know: notifications are stored, never fetched) and ``e2e`` (the sandbox's
    user). Returns the webhook's ``secret`` and the ``load_token``."""
    from django.utils import timezone

    from integrations.clarius.account.registration import active_endpoint
    from integrations.clarius.models import ClariusLink

    institution = seed.institution()
    links = {}
    for name, token in (("load", f"bench-{secrets.token_urlsafe(16)}"), ("e2e", sandbox_token)):
        user = seed.member(institution, f"{name}@bench.invalid", "clinician", password=None)
        links[name] = ClariusLink.objects.create(
            token=token,
            user=user,
            institution=institution,
            state=ClariusLink.State.CONFIRMED,
            confirmed_at=timezone.now(),
        )
    return {"secret": active_endpoint().secret, "load_token": links["load"].token}


def sandbox_env(sandbox) -> dict:
    """The portal's settings to talk to the sandbox (plain HTTP on loopback)."""
    return {
        "CLARIUS_API_URL": sandbox.api_url,
        "CLARIUS_API_KEY": sandbox.api_key,
        "CLARIUS_MEDIA_ORIGINS": sandbox.media_origin,
        "CLARIUS_ALLOW_HTTP": "1",
    }


def notification(customer_id: str, api_url: str, submitted_at: str) -> Body:
    """A webhook notification's JSON body, with a fresh request and exam UUID per request
    (the sandbox's format: ``download_url`` names the request)."""
    return Body(
        {
            "request_uuid": REQUEST_UUID,
            "exam_uuid": EXAM_UUID,
            "customer_id": customer_id,
            "download_url": f"{api_url}exams/download-requests/{REQUEST_UUID}/data/",
            "submitted_at": submitted_at,
        }
    )


def _sandbox_call(sandbox, method: str, path: str, body: dict):
    import requests

    return requests.request(
        method,
        sandbox.api_url + path,
        json=body,
        headers={"Authorization": f"Service-API-Key {sandbox.api_key}"},
        timeout=10,
    )


def register_webhook(sandbox, url: str) -> None:
    response = _sandbox_call(sandbox, "PATCH", "services/settings/", {"notification_url": url})
    if response.status_code != 200:
        raise BenchError(f"registering the webhook failed: {response.status_code} {response.text}")


def confirm_at_sandbox(sandbox, token: str) -> None:
    response = _sandbox_call(sandbox, "POST", "services/customer-confirmations/", {"token": token})
    if response.status_code not in (200, 201):
        raise BenchError(f"confirming at the sandbox failed: {response.status_code}")


def queued_tasks(redis_url: str | None) -> int:
    """Tasks waiting in django-q2's queue: Redis lists, or the ORM broker's table."""
    if redis_url:
        import redis

        connection = redis.Redis.from_url(redis_url)
        return sum(connection.llen(key) for key in connection.scan_iter("django_q:*:q"))
    from django_q.models import OrmQ

    return OrmQ.objects.count()


def receipts(customer_id: str) -> dict:
    """The stored notification receipts for ``customer_id``, counted by state."""
    from django.db.models import Count

    from integrations.clarius.models import NotificationReceipt

    rows = (
        NotificationReceipt.objects.filter(customer_id=customer_id)
        .values("state")
        .annotate(n=Count("id"))
    )
    return {row["state"]: row["n"] for row in rows}


def settle(customer_id: str, redis_url: str | None) -> tuple[dict, int]:
    """Receipts and queued tasks once requests still in flight have landed (≤ 10 s)."""
    counts = None
    for _ in range(50):
        time.sleep(0.2)
        latest = (receipts(customer_id), queued_tasks(redis_url))
        if latest == counts:
            break
        counts = latest
    return latest


def check_stored(label: str, stored: dict, acknowledged: int) -> None:
    """Every acknowledged notification stored, and all still pending (no worker ran)."""
    if set(stored) - {"pending"}:
        raise BenchError(f"{label}: unexpected receipt states {stored} (expected pending)")
    if stored.get("pending", 0) < acknowledged:
        raise BenchError(
            f"{label}: {acknowledged} acknowledged, only {stored.get('pending', 0)} stored"
        )


def clear_load(customer_id: str, redis_url: str | None) -> None:
    """Forget the throughput run's receipts and tasks before a worker starts."""
    from django_q.models import OrmQ

    from integrations.clarius.models import NotificationReceipt

    NotificationReceipt.objects.filter(customer_id=customer_id).delete()
    OrmQ.objects.all().delete()
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()


def exam_progress(request) -> dict:
    from integrations.clarius.models import NotificationReceipt
    from portal.exams.models import Exam

    exam = Exam.objects.filter(exam_uuid=request.exam_uuid).values("status").first()
    receipt = (
        NotificationReceipt.objects.filter(request_uuid=request.request_uuid)
        .values("state", "received_at", "fetched_at", "last_error")
        .first()
    )
    return {"exam": exam and exam["status"], "receipt": receipt}


def one_exam(sandbox, user, *, captures: int, videos: int, timeout: float, poll: float) -> dict:
    """Upload an exam at the sandbox (which notifies the webhook); wait until it is ready.

    Returns the seconds from the upload until ready, and until the receipt was stored
    (``received``) and fetched (``fetched``), or None for those not recorded.
    """
    started_wall = time.time()
    started = time.monotonic()
    request = sandbox.upload_exam(user, captures=captures, videos=videos, notify=True)
    deadline = started + timeout
    while True:
        progress = exam_progress(request)
        if progress["exam"] == "ready":
            elapsed = time.monotonic() - started
            break
        if progress["exam"] == "incomplete":
            raise BenchError(f"exam {request.exam_uuid} ended incomplete: {progress}")
        if time.monotonic() > deadline:
            raise BenchError(f"exam {request.exam_uuid} not ready after {timeout:.0f}s: {progress}")
        time.sleep(poll)
    receipt = progress["receipt"] or {}

    def since_start(moment) -> float | None:
        return moment.timestamp() - started_wall if moment else None

    return {
        "seconds": elapsed,
        "received": since_start(receipt.get("received_at")),
        "fetched": since_start(receipt.get("fetched_at")),
    }
