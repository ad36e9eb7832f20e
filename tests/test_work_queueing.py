"""Enqueueing: on the ORM broker inside the transaction, on any other broker after it."""

import math

import pytest
from django.db import transaction
from django_q.models import OrmQ

from portal.work.queueing import enqueue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def orm_broker(settings, monkeypatch):
    """django-q2 on its ORM broker, whatever broker the suite itself runs with."""
    from django_q.brokers.orm import ORM
    from django_q.conf import Conf

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False, "orm": "default"}
    monkeypatch.setattr(Conf, "ORM", "default")
    monkeypatch.setattr("portal.work.queueing.broker", lambda: ORM(list_key="portal"))


def test_on_the_orm_broker_the_task_commits_with_the_work(orm_broker):
    with transaction.atomic():
        enqueue(math.floor, 1.5)
        assert OrmQ.objects.count() == 1  # written in the same transaction
    assert OrmQ.objects.count() == 1


def test_on_the_orm_broker_the_task_rolls_back_with_the_work(orm_broker):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(math.floor, 1.5)
        raise RuntimeError("the work failed")
    assert OrmQ.objects.count() == 0


def test_other_brokers_are_written_after_the_commit(settings, monkeypatch):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False, "orm": None, "redis": "x"}
    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: sent.append(a))
    with transaction.atomic():
        enqueue(math.floor, 1.5)
        assert sent == []
    assert sent == [("math.floor", 1.5)]


def test_a_broker_failure_is_logged_and_spoils_nothing(orm_broker, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("django_q.tasks.async_task", broken)
    with transaction.atomic():
        enqueue(math.floor, 1.5)
    assert "the sweeper will retry it" in caplog.text


def test_a_task_is_named_by_its_function_never_by_a_string():
    with pytest.raises(TypeError):
        enqueue("math.floor", 1.5)


def test_every_kind_of_work_is_registered_with_its_task():
    from integrations.clarius.models import ClariusLink, NotificationReceipt
    from portal.accounts.models import PasswordResetRequest
    from portal.exams.models import Capture
    from portal.reports.models import Report
    from portal.work import registry

    models = {kind.model for kind in registry.kinds()}
    assert {ClariusLink, NotificationReceipt, Capture, Report, PasswordResetRequest} <= models
    for kind in registry.kinds():
        assert callable(kind.task) and kind.waiting, kind


def test_the_schedules_name_their_tasks_by_function(settings):
    from portal.work import schedules

    registered = schedules.registered()
    assert registered["work: sweep due work"] == ("portal.work.sweeper.sweep", 1)
    for func, minutes in registered.values():
        module, _, name = func.rpartition(".")
        assert callable(getattr(__import__(module, fromlist=[name]), name)), func
        assert minutes >= 1
