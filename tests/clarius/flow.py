"""Helpers for the ingestion tests: link a sandbox user, deliver a notification, run work."""

import json

from django.test import Client
from django.urls import reverse

from integrations.clarius import tasks
from integrations.clarius.account.registration import active_endpoint
from integrations.clarius.ingestion.linking import link_token
from integrations.clarius.models import NotificationReceipt
from portal.exams.models import Capture


def link_confirmed(sandbox_user, user, institution):
    link = link_token(user, institution, sandbox_user.customer_token).link
    tasks.confirm_link(link.pk)  # "not due" if the queue already ran it after commit
    link.refresh_from_db()
    assert link.state == "confirmed"
    return link


def deliver(request_or_payload, client=None):
    """POST a notification to the portal's webhook, as Clarius would."""
    payload = (
        request_or_payload
        if isinstance(request_or_payload, dict)
        else request_or_payload.notification_payload()
    )
    url = reverse("clarius-notifications", args=[active_endpoint().secret])
    return (client or Client()).post(url, json.dumps(payload), content_type="application/json")


def run_due_work():
    """Run every due task until nothing is due, as the worker and sweeper would."""
    for _ in range(20):
        ran = False
        for receipt in NotificationReceipt.objects.filter(state=NotificationReceipt.State.PENDING):
            ran |= tasks.fetch_receipt(receipt.pk) != "not due"
        for capture in Capture.objects.filter(state=Capture.State.PENDING):
            ran |= tasks.download_capture(capture.pk) != "not due"
        if not ran:
            return
