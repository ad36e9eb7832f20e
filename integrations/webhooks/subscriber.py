"""The core's events become webhook deliveries, in the transaction of the change.

For an exam's institution, each enabled endpoint that wants the event type gets one
``Delivery`` of one ``Event`` (one ``webhook-id`` and one body for all of them), due
now; the worker is nudged after the commit. The body names the exam and where to read
it in the API, never anything about the patient.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from django.conf import settings

from integrations.webhooks.models import Delivery, Endpoint, Event
from portal import work
from portal.work.registry import nudge

# Facts the core may add to an event (``emit(..., report_version=2)``); nothing else.
EXTRA_FIELDS = ("report_version", "report_status")


def exam_api_url(exam) -> str:
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}/api/v1/exams/{exam.pk}/"


def body_of(event_type: str, exam, at: datetime, **data) -> str:
    payload = {
        "exam_id": exam.pk,
        "exam_uuid": str(exam.exam_uuid),
        "institution": exam.institution.slug,
        "url": exam_api_url(exam),
    }
    payload.update({key: data[key] for key in EXTRA_FIELDS if key in data})
    document = {
        "type": event_type,
        "timestamp": at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": payload,
    }
    return json.dumps(document, separators=(",", ":"))


def new_webhook_id() -> str:
    return "msg_" + uuid.uuid4().hex


def on_event(event_type: str, exam, **data) -> Event | None:
    """Record the event's deliveries (subscribed to ``portal.events``)."""
    endpoints = [
        endpoint
        for endpoint in Endpoint.objects.for_institution(exam.institution).filter(enabled=True)
        if endpoint.wants(event_type)
    ]
    if not endpoints:
        return None
    event = Event.objects.create(
        institution_id=exam.institution_id,
        webhook_id=new_webhook_id(),
        type=event_type,
        exam=exam,
        body=body_of(event_type, exam, datetime.now(UTC), **data),
    )
    for endpoint in endpoints:
        delivery = Delivery(institution_id=exam.institution_id, event=event, endpoint=endpoint)
        work.schedule_now(delivery)
        delivery.save()
        nudge(delivery)
    return event
