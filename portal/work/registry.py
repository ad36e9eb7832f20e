"""Every kind of durable work, registered by the app that owns it.

A kind is a model of ``Work`` rows, the filter that says a row is waiting for its task
(``state="pending"``), and the task that does one row. Apps register their kinds in
``AppConfig.ready()``; the sweeper, the admin's "retry now" and ``nudge`` find the task
here, so no module names another's task by a dotted string, and code that makes a row
due does not import the module that works on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from portal.registries import Registry
from portal.work.queueing import enqueue


@dataclass(frozen=True)
class Kind:
    model: type
    task: Callable[[int], str]
    waiting: dict = field(default_factory=dict)

    @property
    def key(self) -> type:
        return self.model

    def rows(self):
        """The rows waiting for this task (due or not)."""
        return self.model._default_manager.filter(**self.waiting)


_kinds: Registry[Kind] = Registry("work kind")
kinds = _kinds.all


def register(model: type, task: Callable[[int], str], **waiting) -> Kind:
    """``model`` rows matching ``waiting`` are done by ``task(pk)``. Once per model."""
    return _kinds.register(Kind(model, task, waiting))


def kind_of(model: type) -> Kind:
    kind = _kinds.get(model)
    if kind is None:
        raise LookupError(f"no work kind is registered for {model.__name__}")
    return kind


def nudge(row) -> None:
    """Queue the task of this row's kind for it (after the commit; see ``queueing``)."""
    enqueue(kind_of(type(row)).task, row.pk)


def nudge_pk(model: type, pk: int) -> None:
    enqueue(kind_of(model).task, pk)


def nudge_at(row) -> None:
    """Queue the row's task for when its backoff has passed (a one-off schedule).

    For work that should not wait for the next sweep after its backoff (a research
    export the user is watching); the sweeper would hand it out all the same.
    """
    from django_q.models import Schedule
    from django_q.tasks import schedule

    from portal.work.queueing import task_path

    schedule(
        task_path(kind_of(type(row)).task),
        row.pk,
        schedule_type=Schedule.ONCE,
        next_run=row.next_attempt_at,
    )
