"""The events seam: the core emits in the change's transaction; deliveries commit with it."""

from __future__ import annotations

import pytest
from django.db import transaction

from integrations.webhooks import subscriber
from integrations.webhooks.models import Delivery, Event
from portal import events
from portal.exams.models import Capture, Exam
from portal.exams.status import update_exam_status
from portal.reports.delivering import settle
from portal.reports.models import Delivery as ReportDelivery
from portal.reports.models import Report
from portal.reports.review import assign_to
from tests.factories import make_exam, mark_delivered
from tests.reports.conftest import sign


def types():
    return list(Event.objects.order_by("pk").values_list("type", flat=True))


def test_the_webhooks_app_subscribes():
    assert subscriber.on_event in events.subscribers()


def test_an_unknown_event_type_is_a_mistake(northside, bob):
    with pytest.raises(ValueError):
        events.emit("exam.deleted", make_exam(northside, bob))


def test_a_rolled_back_change_sends_nothing(hooked, northside, bob):
    exam = make_exam(northside, bob)
    with pytest.raises(RuntimeError), transaction.atomic():
        events.emit(events.EXAM_SIGNED, exam)
        assert Delivery.objects.count() == 1
        raise RuntimeError("the change fails")
    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_an_exam_becoming_ready_emits_exam_ready(hooked, northside, bob):
    exam = make_exam(northside, bob, status=Exam.Status.RECEIVING)
    Capture.objects.filter(exam=exam).update(state=Capture.State.PENDING)
    with transaction.atomic():
        update_exam_status(exam.pk)
    assert types() == []  # still receiving: nothing to say
    Capture.objects.filter(exam=exam).update(state=Capture.State.DONE)
    with transaction.atomic():
        update_exam_status(exam.pk)
        update_exam_status(exam.pk)  # no change: no second event
    assert types() == ["exam.ready"]


def test_assigning_and_signing_emit(hooked, northside, trio):
    alice, bob, _ = trio
    exam = make_exam(northside, bob)
    assign_to(exam, alice)
    assign_to(exam, alice)  # the same reviewer again: nothing new
    assert types() == ["exam.assigned"]
    sign(exam, alice, build=False)
    assert types() == ["exam.assigned", "exam.signed"]
    assert Event.objects.order_by("pk").last().body.count('"report_version":1') == 1


def test_a_report_sent_or_failed_emits(hooked, northside, trio):
    alice, bob, _ = trio
    exam = make_exam(northside, bob)
    report = sign(exam, alice)
    mark_delivered(report)
    assert types()[-1] == "report.sent"

    second = sign(make_exam(northside, bob), alice)
    from portal.reports.issuing import plan_deliveries

    plan_deliveries(second)
    ReportDelivery.objects.filter(report=second).update(
        state=ReportDelivery.State.FAILED, next_attempt_at=None
    )
    second = Report.objects.get(pk=second.pk)
    assert settle(second) == "failed"
    assert types()[-1] == "report.failed"
    count = len(types())
    settle(Report.objects.get(pk=second.pk))  # already failed: no second event
    assert len(types()) == count
