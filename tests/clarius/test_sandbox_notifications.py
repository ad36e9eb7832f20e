"""Webhook delivery (§2) and notification records (§6): one try, no retry, all logged."""

import json

from clarius_sandbox import Sandbox
from clarius_sandbox.notifications import DROPPED
from tests.services import closed_port


def register(sandbox_api, url):
    r = sandbox_api.patch("services/settings/", json={"notification_url": url})
    assert r.status_code == 200


def test_an_upload_notifies_the_registered_url(
    clarius_sandbox, sandbox_api, clarius_webhook_receiver
):
    register(sandbox_api, clarius_webhook_receiver.url)
    submission = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"))
    clarius_sandbox.wait_for_deliveries()
    (received,) = clarius_webhook_receiver.received
    assert received.path == "/clarius/notifications/s3cret/"
    assert received.headers["Content-Type"] == "application/json"
    assert "Authorization" not in received.headers  # Clarius sends no credentials
    assert received.json() == submission.notification_payload()


def test_a_delivery_is_recorded_with_its_response(
    clarius_sandbox, sandbox_api, clarius_webhook_receiver
):
    register(sandbox_api, clarius_webhook_receiver.url)
    submission = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"))
    clarius_sandbox.wait_for_deliveries()
    page = sandbox_api.get("services/notifications/records/").json()
    assert page["count"] == 1
    (record,) = page["results"]
    assert set(record) == {"logged_at", "event"}
    event = record["event"]
    assert set(event) == {"sent_at", "request", "response", "error"}
    assert event["request"]["url"] == clarius_webhook_receiver.url
    assert event["request"]["method"] == "POST"
    assert json.loads(event["request"]["content"]) == submission.notification_payload()
    assert event["response"] == {"status_code": 200, "content": '{"ok": true}'}
    assert event["error"] is None
    assert event["sent_at"] <= record["logged_at"]


def test_a_failed_delivery_is_not_retried(clarius_sandbox, sandbox_api, clarius_webhook_receiver):
    clarius_webhook_receiver.status = 503
    register(sandbox_api, clarius_webhook_receiver.url)
    clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"))
    clarius_sandbox.wait_for_deliveries()
    assert len(clarius_webhook_receiver.received) == 1
    (record,) = sandbox_api.get("services/notifications/records/").json()["results"]
    assert record["event"]["response"]["status_code"] == 503


def test_a_slow_receiver_times_out_once(clarius_sandbox, sandbox_api, clarius_webhook_receiver):
    clarius_sandbox.notifications.timeout = 0.2  # 10 s in the vendor's setting
    clarius_webhook_receiver.delay = 0.5
    register(sandbox_api, clarius_webhook_receiver.url)
    clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"))
    clarius_sandbox.wait_for_deliveries()
    (record,) = sandbox_api.get("services/notifications/records/").json()["results"]
    assert (record["event"]["response"], record["event"]["error"]) == (None, "timed out")
    assert len(clarius_webhook_receiver.received) == 1


def test_an_unreachable_receiver_is_recorded_as_an_error(clarius_sandbox, sandbox_api):
    register(sandbox_api, f"http://127.0.0.1:{closed_port()}/hook/")
    clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"))
    clarius_sandbox.wait_for_deliveries()
    (record,) = sandbox_api.get("services/notifications/records/").json()["results"]
    assert record["event"]["response"] is None
    assert record["event"]["error"].startswith("connection error")


def test_a_dropped_notification_never_arrives_but_is_recorded(
    clarius_sandbox, sandbox_api, clarius_webhook_receiver
):
    register(sandbox_api, clarius_webhook_receiver.url)
    clarius_sandbox.drop_notifications(1)
    user = clarius_sandbox.add_user("Ann")
    lost = clarius_sandbox.upload_exam(user)
    kept = clarius_sandbox.upload_exam(user)
    clarius_sandbox.wait_for_deliveries()
    assert [r.json()["request_uuid"] for r in clarius_webhook_receiver.received] == [
        kept.request_uuid
    ]
    newest, oldest = sandbox_api.get("services/notifications/records/").json()["results"]
    assert json.loads(oldest["event"]["request"]["content"])["request_uuid"] == lost.request_uuid
    assert (oldest["event"]["response"], oldest["event"]["error"]) == (None, DROPPED)
    assert newest["event"]["response"]["status_code"] == 200


def test_records_are_newest_first_and_paged(clarius_sandbox, sandbox_api):
    register(sandbox_api, f"http://127.0.0.1:{closed_port()}/hook/")
    user = clarius_sandbox.add_user("Ann")
    uploads = [clarius_sandbox.upload_exam(user) for _ in range(3)]
    clarius_sandbox.wait_for_deliveries()
    first = sandbox_api.get("services/notifications/records/?limit=2").json()
    second = sandbox_api.get(first["next"]).json()
    contents = [r["event"]["request"]["content"] for r in first["results"] + second["results"]]
    assert [json.loads(c)["request_uuid"] for c in contents] == [
        u.request_uuid for u in reversed(uploads)
    ]


def test_nothing_is_sent_without_a_url_or_with_notify_off(
    clarius_sandbox, sandbox_api, clarius_webhook_receiver
):
    user = clarius_sandbox.add_user("Ann")
    clarius_sandbox.upload_exam(user)
    register(sandbox_api, clarius_webhook_receiver.url)
    clarius_sandbox.upload_exam(user, notify=False)
    clarius_sandbox.wait_for_deliveries()
    assert clarius_webhook_receiver.received == []
    assert sandbox_api.get("services/notifications/records/").json()["count"] == 0


def test_unconfirmed_customers_notify_unless_turned_off(
    clarius_sandbox, sandbox_api, clarius_webhook_receiver
):
    register(sandbox_api, clarius_webhook_receiver.url)
    user = clarius_sandbox.add_user("Ann")
    clarius_sandbox.upload_exam(user)
    clarius_sandbox.state.notify_unconfirmed = False
    clarius_sandbox.upload_exam(user)
    clarius_sandbox.wait_for_deliveries()
    assert len(clarius_webhook_receiver.received) == 1


def test_without_workers_delivery_happens_inside_upload_exam(clarius_webhook_receiver):
    with Sandbox(notification_workers=False) as sandbox:
        sandbox.state.settings["notification_url"] = clarius_webhook_receiver.url
        submission = sandbox.upload_exam(sandbox.add_user("Ann"), captures=0, videos=0)
        assert [r.json() for r in clarius_webhook_receiver.received] == [
            submission.notification_payload()
        ]
        assert sandbox.state.notification_records[0].delivered


def test_reset_forgets_queued_deliveries(clarius_sandbox, sandbox_api, clarius_webhook_receiver):
    clarius_webhook_receiver.delay = 0.2
    register(sandbox_api, clarius_webhook_receiver.url)
    user = clarius_sandbox.add_user("Ann")
    for _ in range(3):
        clarius_sandbox.upload_exam(user, captures=0, videos=0)
    clarius_sandbox.reset()
    clarius_sandbox.wait_for_deliveries(timeout=2)
    assert len(clarius_webhook_receiver.received) <= 1  # at most the one already in flight
    assert clarius_sandbox.state.notification_records == []
