"""Superusers see durable work with its state and last error, and can retry it."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.exams.models import Capture
from tests.factories import make_exam


@pytest.fixture
def admin_client(client, db):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    return client


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path


def test_failed_receipts_are_listed_with_their_error_and_can_be_retried(
    admin_client, bob, northside, monkeypatch, django_capture_on_commit_callbacks
):
    link = ClariusLink.objects.create(
        token="token-of-bob-123456", user=bob, institution=northside, state="confirmed"
    )
    failed = NotificationReceipt.objects.create(
        request_uuid=uuid.uuid4(),
        exam_uuid=uuid.uuid4(),
        customer_id=link.token,
        download_url="https://cloud.clarius.com/api/public/v0/x/",
        link=link,
        state="failed",
        attempts=8,
        last_error="ServerError: 503 from Clarius",
    )
    url = reverse("admin:clarius_notificationreceipt_changelist")
    page = admin_client.get(url, {"state__exact": "failed"})
    assert "ServerError: 503 from Clarius" in page.content.decode()
    assert link.token not in page.content.decode()

    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"action": "retry_now", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("pending", 0)
    assert failed.next_attempt_at is not None
    assert queued == [("integrations.clarius.tasks.fetch_receipt", failed.pk)]


def test_rejected_receipts_are_not_retried(admin_client, monkeypatch):
    rejected = NotificationReceipt.objects.create(state="rejected", rejection_reason="bad JSON")
    url = reverse("admin:clarius_notificationreceipt_changelist")
    admin_client.post(url, {"action": "retry_now", "_selected_action": [rejected.pk]})
    rejected.refresh_from_db()
    assert rejected.state == "rejected"


def test_failed_captures_can_be_retried(admin_client, bob, northside):
    exam = make_exam(northside, bob)
    capture = exam.captures.get()
    Capture.objects.filter(pk=capture.pk).update(state="failed", last_error="403 expired link")
    url = reverse("admin:exams_capture_changelist")
    assert "403 expired link" in admin_client.get(url).content.decode()
    admin_client.post(url, {"action": "retry_now", "_selected_action": [capture.pk]})
    capture.refresh_from_db()
    assert capture.state == "pending"


def test_link_pages_never_show_the_token(admin_client, bob, northside):
    link = ClariusLink.objects.create(
        token="token-of-bob-123456",
        user=bob,
        institution=northside,
        state="pending",
        last_error="timed out",
    )
    listing = admin_client.get(reverse("admin:clarius_clariuslink_changelist")).content.decode()
    detail = admin_client.get(
        reverse("admin:clarius_clariuslink_change", args=[link.pk])
    ).content.decode()
    for html in (listing, detail):
        assert "token-of-bob-123456" not in html
        assert link.masked_token in html


def test_the_audit_log_is_read_only(admin_client):
    assert admin_client.get(reverse("admin:exams_auditevent_add")).status_code == 403
