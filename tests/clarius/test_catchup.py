"""Catching up on notifications Clarius never delivered, and on link drift."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.clarius import clients, tasks
from integrations.clarius.ingestion.catchup import poll_accessible, reconcile_links
from integrations.clarius.ingestion.linking import link_token
from integrations.clarius.models import ClariusLink, NotificationReceipt
from tests.clarius.flow import deliver, link_confirmed, run_due_work


@pytest.fixture
def linked(clarius_settings, clarius_sandbox, bob, northside, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    sandbox_user = clarius_sandbox.add_user("Bob")
    link_confirmed(sandbox_user, bob, northside)
    return sandbox_user


def test_a_lost_notification_is_ingested_by_the_poll(clarius_sandbox, linked):
    clarius_sandbox.drop_notifications(1)
    delivered = clarius_sandbox.upload_exam(linked, captures=1, videos=0, notify=False)
    lost = clarius_sandbox.upload_exam(linked, captures=1, videos=0, notify=False)
    deliver(delivered)
    assert tasks.poll() == {
        "seen": 2,
        "new": 1,
        "unassigned": 0,
        "rejected": 0,
        "stranded_assigned": 0,
    }
    receipt = NotificationReceipt.objects.get(request_uuid=lost.request_uuid)
    assert receipt.source == "poll" and receipt.state == "pending"
    run_due_work()
    assert receipt.__class__.objects.filter(state="fetched").count() == 2
    assert tasks.poll()["new"] == 0  # nothing twice


def test_the_poll_command_reports_what_it_found(clarius_sandbox, linked):
    clarius_sandbox.upload_exam(linked, captures=1, videos=0, notify=False)
    out = StringIO()
    call_command("clarius", "poll", stdout=out)
    assert "Accessible exams: 1; new: 1 queued for fetching" in out.getvalue()


def test_catch_up_over_a_thousand_exams_uses_a_bounded_number_of_queries(
    clarius_sandbox, linked, django_capture_on_commit_callbacks
):
    for _ in range(1000):
        clarius_sandbox.upload_exam(linked, captures=1, videos=0, notify=False)
    with (
        clients.service_client() as client,
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        counts = poll_accessible(client)
    assert counts == {"seen": 1000, "new": 1000, "unassigned": 0, "rejected": 0}
    assert NotificationReceipt.objects.filter(state="pending").count() == 1000
    assert len(callbacks) == 1000  # one fetch queued per new request
    # Per batch of 500: look up receipts, look up links, insert (SQLite splits a bulk
    # insert by its variable limit), read back ids. Not one query per exam.
    assert len(queries) <= 40, [q["sql"][:80] for q in queries]


def test_reconcile_repairs_drift_both_ways(
    clarius_sandbox, clarius_settings, bob, charlie, northside, southside
):
    forgotten = clarius_sandbox.add_user("Forgotten by Clarius")
    already = clarius_sandbox.add_user("Already confirmed at Clarius")
    stale = ClariusLink.objects.create(
        token=forgotten.customer_token, user=bob, institution=northside, state="confirmed"
    )
    pending = link_token(charlie, southside, already.customer_token).link
    with clients.service_client() as client:
        client.confirm_customer(already.customer_token)
        report = reconcile_links(client)
    assert report["reconfirming"] == [stale.masked_token]
    assert report["now_confirmed"] == [pending.masked_token]
    stale.refresh_from_db()
    pending.refresh_from_db()
    assert (stale.state, pending.state) == ("pending", "confirmed")
    assert tasks.confirm_link(stale.pk) == "confirmed"


GOOD = {
    "request_uuid": "5b0c1c3e-8a52-4a36-9d0e-0f4d5a0b6c11",
    "exam_uuid": "6c1d2d4f-9b63-4b47-8e1f-1a5e6b1c7d22",
    "download_url": "{api}exams/download-requests/5b0c1c3e/data/",
    "submitted_at": "2026-11-28T08:00:00Z",
}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({}, None),
        ({"customer_id": "tok\x00en-of-someone"}, "customer_id is not a customer token"),
        ({"download_url": "{api}x\ud800/data/"}, "control or invisible characters"),
        ({"download_url": "{api}x\u202e/data/"}, "control or invisible characters"),
        ({"submitted_at": "0001-01-01T00:00:00+05:00"}, "out of range"),
    ],
)
def test_an_accessible_exam_no_column_can_hold_is_skipped_not_a_crash(
    linked, settings, change, reason
):
    from integrations.clarius.api.documents import ExamDownload
    from integrations.clarius.ingestion.catchup import item_refusal, record_unseen

    sent = {**GOOD, "customer_id": linked.customer_token, **change}
    sent["download_url"] = sent["download_url"].replace("{api}", settings.CLARIUS_API_URL)
    item = ExamDownload.from_json(sent)
    if reason is None:
        assert item_refusal(item) is None
        assert record_unseen([item])["new"] == 1
        return
    assert reason in item_refusal(item)
    assert record_unseen([item]) == {"new": 0, "unassigned": 0, "rejected": 1}
    assert not NotificationReceipt.objects.exists()


def test_a_notification_stranded_by_a_confirmation_at_the_same_moment_is_assigned(
    bob, northside, clarius_settings, django_capture_on_commit_callbacks, monkeypatch
):
    # As if the webhook saw the link pending while the confirmation did not yet see the
    # receipt: the link is confirmed, the receipt still waits for it.
    link = ClariusLink.objects.create(
        token="tok-stranded-123456", user=bob, institution=northside, state="confirmed"
    )
    receipt = NotificationReceipt.objects.create(
        request_uuid="6f1b4f40-0000-4000-8000-000000000001",
        customer_id=link.token,
        download_url="https://cloud.example/api/public/v0/services/requests/x/",
        state=NotificationReceipt.State.UNASSIGNED,
    )
    other = NotificationReceipt.objects.create(
        request_uuid="6f1b4f40-0000-4000-8000-000000000002",
        customer_id="tok-nobody-linked-this",
        download_url="https://cloud.example/api/public/v0/services/requests/y/",
        state=NotificationReceipt.State.UNASSIGNED,
    )
    monkeypatch.setattr("integrations.clarius.ingestion.catchup.poll_accessible", lambda client: {})
    queued = []
    monkeypatch.setattr("portal.work.registry.enqueue", lambda f, *a: queued.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.poll() == {"stranded_assigned": 1}
    receipt.refresh_from_db()
    other.refresh_from_db()
    assert (receipt.state, receipt.link_id) == ("pending", link.pk)
    assert queued == [(receipt.pk,)]
    assert other.state == NotificationReceipt.State.UNASSIGNED  # still nobody's
