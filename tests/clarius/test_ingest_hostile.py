"""Hostile and concurrent notifications: nothing foreign is contacted, nothing doubles."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.urls import reverse

from integrations.clarius import tasks
from integrations.clarius.account.registration import active_endpoint
from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.work import sweeper
from portal.work.queueing import task_path
from tests.clarius.flow import deliver


@pytest.fixture
def foreign_server():
    """A server that must never be contacted; it records anything that reaches it."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append((self.path, dict(self.headers)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


def test_a_foreign_download_url_is_never_contacted(
    clarius_settings, clarius_sandbox, foreign_server, bob, northside
):
    origin, hits = foreign_server
    sandbox_user = clarius_sandbox.add_user("Bob")
    ClariusLink.objects.create(
        token=sandbox_user.customer_token, user=bob, institution=northside, state="confirmed"
    )
    request_uuid = str(uuid.uuid4())
    payload = {
        "request_uuid": request_uuid,
        "exam_uuid": str(uuid.uuid4()),
        "customer_id": sandbox_user.customer_token,
        "download_url": f"{origin}/api/public/v0/exams/download-requests/{request_uuid}/data/",
        "submitted_at": "2026-11-28T08:00:00Z",
    }
    response = deliver(payload)
    assert response.status_code == 400
    receipt = NotificationReceipt.objects.get()
    assert receipt.state == "rejected"
    assert "not the configured API origin" in receipt.rejection_reason
    assert sweeper.sweep()["NotificationReceipt"] == 0
    assert hits == []


def test_a_receipt_pointing_elsewhere_is_refused_by_the_client_too(
    clarius_settings, foreign_server, bob, northside
):
    """Belt and braces: a stored receipt that somehow points elsewhere is never fetched."""
    origin, hits = foreign_server
    link = ClariusLink.objects.create(
        token="token-of-bob-123456", user=bob, institution=northside, state="confirmed"
    )
    receipt = NotificationReceipt.objects.create(
        request_uuid=uuid.uuid4(),
        exam_uuid=uuid.uuid4(),
        customer_id=link.token,
        download_url=f"{origin}/api/public/v0/x/",
        submitted_at="2026-11-28T08:00:00Z",
        link=link,
        state="pending",
        next_attempt_at="2026-01-01T00:00:00Z",
    )
    assert tasks.fetch_receipt(receipt.pk) == "failed"
    receipt.refresh_from_db()
    assert (
        receipt.state == "failed" and "refusing to send Clarius credentials" in receipt.last_error
    )
    assert hits == []


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_of_one_request_make_one_receipt_and_one_fetch(
    live_server, monkeypatch, bob, northside
):
    ClariusLink.objects.create(
        token="token-of-bob-123456", user=bob, institution=northside, state="confirmed"
    )
    enqueued, lock = [], threading.Lock()

    def record(func, *args):
        with lock:
            enqueued.append((task_path(func), args))

    monkeypatch.setattr("portal.work.registry.enqueue", record)
    request_uuid = str(uuid.uuid4())
    body = json.dumps(
        {
            "request_uuid": request_uuid,
            "exam_uuid": str(uuid.uuid4()),
            "customer_id": "token-of-bob-123456",
            "download_url": "https://cloud.clarius.com/api/public/v0/exams/download-requests/"
            f"{request_uuid}/data/",
            "submitted_at": "2026-11-28T08:00:00Z",
        }
    )
    url = live_server.url + reverse("clarius-notifications", args=[active_endpoint().secret])
    barrier = threading.Barrier(10)
    statuses = []

    def send():
        barrier.wait()
        response = requests.post(
            url, data=body, headers={"Content-Type": "application/json"}, timeout=30
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 9 + [202]
    assert NotificationReceipt.objects.count() == 1
    assert [func for func, _ in enqueued] == ["integrations.clarius.tasks.fetch_receipt"]
