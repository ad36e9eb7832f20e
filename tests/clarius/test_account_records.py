"""Clarius' notification records next to the portal's receipts, and ingesting from them."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from integrations.clarius.account import records
from integrations.clarius.models import NotificationReceipt
from portal.exams.models import Exam
from tests.clarius.flow import deliver, link_confirmed

pytestmark = pytest.mark.django_db
PAGE = "admin:clarius_notificationrecordlog_changelist"


@pytest.fixture
def root_client(client):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    return client


@pytest.fixture
def history(
    clarius_sandbox, clarius_settings, clarius_webhook_receiver, bob, northside, settings, tmp_path
):
    """One notification Clarius delivered (and the portal has), one it failed to send."""
    settings.PORTAL_MEDIA_ROOT = tmp_path
    user = clarius_sandbox.add_user("Bob")
    link_confirmed(user, bob, northside)
    clarius_sandbox.state.settings["notification_url"] = clarius_webhook_receiver.url
    delivered = clarius_sandbox.upload_exam(user, captures=1, videos=0)
    clarius_sandbox.wait_for_deliveries()
    deliver(delivered)  # the portal has it
    clarius_sandbox.drop_notifications(1)
    lost = clarius_sandbox.upload_exam(user, captures=1, videos=0)
    clarius_sandbox.wait_for_deliveries()
    return delivered, lost


def test_records_are_matched_to_receipts_newest_first(root_client, history):
    delivered, lost = history
    response = root_client.get(reverse(PAGE))
    rows = response.context["rows"]
    assert [r.request_uuid for r in rows] == [lost.request_uuid, delivered.request_uuid]
    assert rows[0].failed and rows[0].receipt is None and rows[0].can_ingest
    assert not rows[1].failed and str(rows[1].receipt.request_uuid) == delivered.request_uuid
    body = response.content.decode()
    assert "record-failed" in body and "not received" in body and "dropped by the sandbox" in body
    assert body.count('value="Ingest"') == 1


def test_only_failures_can_be_shown(root_client, history):
    rows = root_client.get(reverse(PAGE), {"failures": "1"}).context["rows"]
    assert [r.request_uuid for r in rows] == [history[1].request_uuid]


def test_an_operator_ingests_a_lost_notification(
    root_client, history, django_capture_on_commit_callbacks
):
    lost = history[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = root_client.post(
            reverse("admin:clarius_notificationrecordlog_ingest"),
            {"request_uuid": lost.request_uuid},
        )
    assert response.status_code == 302
    receipt = NotificationReceipt.objects.get(request_uuid=lost.request_uuid)
    assert (receipt.source, receipt.state) == ("poll", "fetched")  # fetched by the queue
    assert Exam.objects.filter(exam_uuid=lost.exam_uuid).exists()
    rows = root_client.get(reverse(PAGE)).context["rows"]
    assert all(row.receipt is not None for row in rows)

    again = root_client.post(
        reverse("admin:clarius_notificationrecordlog_ingest"), {"request_uuid": lost.request_uuid}
    )
    assert "already has request" in root_client.get(again.url).content.decode()


def test_a_request_clarius_never_notified_is_not_ingested(root_client, history):
    response = root_client.post(
        reverse("admin:clarius_notificationrecordlog_ingest"),
        {"request_uuid": "8c3b7d0e-0000-4000-8000-000000000000"},
    )
    assert "has no notification record" in root_client.get(response.url).content.decode()
    assert NotificationReceipt.objects.count() == 1


def test_records_are_paginated(root_client, history, monkeypatch):
    monkeypatch.setattr(records, "PAGE_SIZE", 1)
    first = root_client.get(reverse(PAGE))
    assert first.context["more"] and "page=2" in first.content.decode()
    second = root_client.get(reverse(PAGE), {"page": "2"})
    assert [r.request_uuid for r in second.context["rows"]] == [history[0].request_uuid]
    assert not second.context["more"]


def test_the_command_shows_the_same_and_can_ingest(history, django_capture_on_commit_callbacks):
    delivered, lost = history
    out = StringIO()
    call_command("clarius", "records", stdout=out)
    lines = out.getvalue().splitlines()
    assert lost.request_uuid in lines[0] and lines[0].endswith("NOT RECEIVED")
    assert delivered.request_uuid in lines[1] and lines[1].endswith("received")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("clarius", "records", "--ingest", lost.request_uuid, stdout=out)
    assert "being fetched" in out.getvalue()
    with pytest.raises(CommandError, match="already has"):
        call_command("clarius", "records", "--ingest", lost.request_uuid, stdout=out)


def test_staff_who_are_not_superusers_are_refused(client, alice, clarius_settings):
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    assert client.get(reverse(PAGE)).status_code == 403
    ingest = reverse("admin:clarius_notificationrecordlog_ingest")
    assert client.post(ingest, {"request_uuid": "x"}).status_code == 403


def test_a_record_that_is_not_a_notification_cannot_be_ingested(
    root_client, clarius_sandbox, clarius_settings
):
    from clarius_sandbox.state import NotificationRecord, now

    clarius_sandbox.state.add_record(
        NotificationRecord("?", "https://x.example/", "{not json", now(), now(), None, "timed out")
    )
    (row,) = root_client.get(reverse(PAGE)).context["rows"]
    assert row.failed and row.request_uuid is None and not row.can_ingest
