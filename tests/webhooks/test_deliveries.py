"""Deliveries over real HTTP, verified by an independent Standard Webhooks implementation."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from integrations.webhooks import endpoints, sending, tasks
from integrations.webhooks.models import Delivery, Endpoint, Event
from portal import events
from tests.factories import make_exam


def emitted(exam, event_type=events.EXAM_SIGNED, **data):
    events.emit(event_type, exam, **data)
    return Delivery.objects.order_by("-pk")


def run(delivery):
    return tasks.deliver_webhook(delivery.pk)


def test_a_delivery_arrives_signed_with_the_standard_headers(hooked, receiver, bob, northside):
    endpoint, secret = hooked
    exam = make_exam(northside, bob)
    delivery = emitted(exam, report_version=1).get()
    assert run(delivery) == "delivered"

    [payload] = receiver.verified(secret)  # standardwebhooks accepts our signature
    headers = receiver.requests[0]["headers"]
    event = Event.objects.get()
    assert headers["webhook-id"] == event.webhook_id
    assert abs(int(headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["Content-Type"] == "application/json"
    assert payload["type"] == "exam.signed"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"] == {
        "exam_id": exam.pk,
        "exam_uuid": str(exam.exam_uuid),
        "institution": "northside",
        "url": f"http://127.0.0.1:8000/api/v1/exams/{exam.pk}/",
        "report_version": 1,
    }
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.status_code == 200
    assert delivery.latency_ms is not None and delivery.response_excerpt == '{"ok": true}'
    assert delivery.next_attempt_at is None and delivery.attempts == 1
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None and endpoint.failing_since is None


def test_the_body_carries_no_patient_data(hooked, receiver, bob, northside):
    exam = make_exam(northside, bob, patient_name="Zebulon Quixote")
    patient = exam.patient
    for event_type in events.EVENT_TYPES:
        events.emit(event_type, exam)
    for delivery in Delivery.objects.all():
        assert run(delivery) == "delivered"
    assert len(receiver.requests) == len(events.EVENT_TYPES)
    for request in receiver.requests:
        body = request["body"].decode()
        for value in ("Zebulon", "Quixote", patient.identifier):
            assert value not in body
        assert set(json.loads(body)["data"]) <= {
            "exam_id",
            "exam_uuid",
            "institution",
            "url",
            "report_version",
        }


def test_only_the_event_types_an_endpoint_wants_reach_it(northside, receiver, bob):
    endpoint, _ = endpoints.create(northside, receiver.url, ["exam.ready"])
    exam = make_exam(northside, bob)
    events.emit(events.EXAM_SIGNED, exam)
    assert not Delivery.objects.exists() and not Event.objects.exists()
    events.emit(events.EXAM_READY, exam)
    assert Delivery.objects.get().endpoint == endpoint
    endpoints.set_enabled(endpoint, False)
    events.emit(events.EXAM_READY, exam)
    assert Delivery.objects.count() == 1


def test_a_500_is_retried_on_the_schedule_then_recovers(hooked, receiver, bob, northside):
    _, secret = hooked
    receiver.answers = [500, 500]
    delivery = emitted(make_exam(northside, bob)).get()
    before = timezone.now()
    assert run(delivery) == "retry"
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.status_code == 500
    assert delivery.last_error == "HTTP 500"
    # Cleaned text, at most 1 KiB: no NUL or escape from the receiver reaches the row.
    assert len(delivery.response_excerpt) <= 1024
    assert "\x00" not in delivery.response_excerpt and "\x1b" not in delivery.response_excerpt
    wait = delivery.next_attempt_at - before
    assert timedelta(seconds=5) <= wait <= timedelta(seconds=6)
    assert run(delivery) == "not due"  # waiting out its backoff

    for expected in ("retry", "delivered"):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert run(delivery) == expected
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.attempts == 3 and delivery.last_error == ""
    receiver.verified(secret)
    assert len(set(receiver.ids())) == 1  # every attempt carries the same webhook-id
    assert len({r["headers"]["webhook-timestamp"] for r in receiver.requests}) >= 1


def test_no_answer_in_time_is_a_failure(hooked, receiver, bob, northside, monkeypatch):
    monkeypatch.setattr(sending, "TIMEOUT", 0.5)
    receiver.answers = ["hang"]
    delivery = emitted(make_exam(northside, bob)).get()
    assert run(delivery) == "retry"
    delivery.refresh_from_db()
    assert "no answer within 0.5 s" in delivery.last_error
    assert delivery.status_code is None


def test_a_refused_connection_is_a_failure(northside, bob):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: nobody listens there
    endpoints.create(northside, f"http://127.0.0.1:{port}/x", ["exam.signed"])
    delivery = emitted(make_exam(northside, bob)).get()
    assert run(delivery) == "retry"
    delivery.refresh_from_db()
    assert "ConnectionRefusedError" in delivery.last_error


def test_the_retries_last_more_than_a_day_then_give_up(hooked, receiver, bob, northside):
    total = sum(tasks.SCHEDULE, timedelta())
    assert total >= timedelta(hours=24)
    receiver.answers = [503] * 20
    delivery = emitted(make_exam(northside, bob)).get()
    outcomes = []
    for _ in range(len(tasks.SCHEDULE) + 1):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        outcomes.append(run(delivery))
    assert outcomes == ["retry"] * len(tasks.SCHEDULE) + ["failed"]
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.next_attempt_at is None
    assert delivery.attempts == 8


def test_an_endpoint_failing_for_three_days_is_disabled_and_admins_emailed(
    hooked, receiver, trio, northside
):
    alice, bob, charlie = trio
    endpoint, _ = hooked
    receiver.answers = [500, 500]
    exam = make_exam(northside, bob, patient_name="Zebulon Quixote")
    delivery = emitted(exam).get()
    assert run(delivery) == "retry"
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is not None
    assert mail.outbox == []

    Endpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=3, minutes=1)
    )
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    run(delivery)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "3 days" in endpoint.disabled_reason
    [message] = mail.outbox
    assert message.to == ["alice@example.org"]  # Northside's admin; not bob, not charlie
    assert receiver.url in message.body
    for value in ("Zebulon", "Quixote", exam.patient.identifier):
        assert value not in message.body + message.subject

    # Nothing more goes to a disabled endpoint; a pending delivery gives up, visibly.
    events.emit(events.EXAM_SIGNED, exam)
    assert Delivery.objects.count() == 1
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert run(delivery) == "failed"
    assert len(mail.outbox) == 1


def test_a_success_resets_the_failing_clock(hooked, receiver, bob, northside):
    endpoint, _ = hooked
    receiver.answers = [500]
    exam = make_exam(northside, bob)
    first = emitted(exam).get()
    run(first)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    second = emitted(exam).first()
    assert run(second) == "delivered"
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


def test_during_a_rotation_both_secrets_sign(hooked, receiver, bob, northside):
    endpoint, old = hooked
    new = endpoints.rotate(endpoint, timedelta(hours=1))
    assert new != old and new.startswith("whsec_")
    delivery = emitted(make_exam(northside, bob)).get()
    assert run(delivery) == "delivered"
    assert len(receiver.requests[0]["headers"]["webhook-signature"].split(" ")) == 2
    receiver.verified(old)
    receiver.verified(new)

    # Once the overlap is over, only the new secret signs.
    Endpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    receiver.requests.clear()
    delivery = emitted(delivery.event.exam).first()
    assert run(delivery) == "delivered"
    receiver.verified(new)
    with pytest.raises(Exception):  # noqa: B017 - any verification failure
        receiver.verified(old)


def test_redeliver_sends_the_same_event_again(hooked, receiver, bob, northside):
    _, secret = hooked
    delivery = emitted(make_exam(northside, bob)).get()
    run(delivery)
    again = endpoints.redeliver(delivery)
    assert again.pk != delivery.pk and again.event_id == delivery.event_id
    assert run(again) == "delivered"
    first, second = receiver.verified(secret)
    assert first == second
    assert receiver.ids()[0] == receiver.ids()[1]


def test_secrets_are_encrypted_at_rest_and_never_logged(hooked, receiver, bob, northside, caplog):
    endpoint, secret = hooked
    assert secret.startswith("whsec_")
    assert len(__import__("base64").b64decode(secret[6:])) >= 24
    assert secret not in endpoint.secret_encrypted
    receiver.answers = [500]
    caplog.set_level(logging.DEBUG)
    run(emitted(make_exam(northside, bob)).get())
    logging.getLogger("x").warning("leaked %s", secret)
    from portal.log_masking import mask

    assert secret not in mask(f"oops {secret} here")
    assert "whsec_***" in mask(f"oops {secret} here")
    assert all(secret not in mask(r.getMessage()) for r in caplog.records)
