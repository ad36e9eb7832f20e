"""Events about exams, for whoever subscribes: the core says what happened, never to whom.

The core calls ``emit(event_type, exam, **data)`` inside the transaction that made the
change; each subscriber runs there and then, synchronously, and records what it needs as
durable rows in that same transaction. So an event is never lost (it commits with the
change) and never sent for a change that rolled back (it rolls back with it). A
subscriber does no I/O: it writes rows, and its own worker does the rest after the
commit. A subscriber that raises fails the change, as any other write in it would.

Integrations subscribe in their ``AppConfig.ready()`` (partner webhooks do); the core
imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable

EXAM_READY = "exam.ready"  # every capture of the exam arrived
EXAM_ASSIGNED = "exam.assigned"  # a reviewer took the exam
EXAM_SIGNED = "exam.signed"  # the findings were signed
REPORT_SENT = "report.sent"  # a report version reached every destination
REPORT_FAILED = "report.failed"  # a report version gave up on a destination

EVENT_TYPES = (EXAM_READY, EXAM_ASSIGNED, EXAM_SIGNED, REPORT_SENT, REPORT_FAILED)

Subscriber = Callable[..., None]  # subscriber(event_type, exam, **data)

_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Call ``subscriber(event_type, exam, **data)`` on every event. Once per function."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def subscribers() -> list[Subscriber]:
    return list(_subscribers)


def emit(event_type: str, exam, **data) -> None:
    """Tell every subscriber that ``event_type`` happened to ``exam``.

    Call it inside the transaction that made the change. ``data``: small facts about the
    event (a report's version number), never patient data.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    for subscriber in list(_subscribers):
        subscriber(event_type, exam, **data)
