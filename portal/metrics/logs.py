"""A request id on every log line, carried into background tasks; JSON log lines.

Each request gets an id: the caller's ``X-Request-Id`` when it is a sensible token, else a
new one. It is in a context variable while the request runs, so every log line of the
request carries it; the response returns it in ``X-Request-Id``; and the request's
``X-Request-Id`` header is set to it, so whatever keeps a request's headers (the
Clarius notification receipt does) keeps the id too.

A task queued while an id is current carries it (django-q2's ``pre_enqueue`` signal puts
it in the task package); the worker makes it current while the task runs
(``pre_execute``), so a notification can be followed into its fetch and capture tasks,
and further, since tasks those queue carry it again. Work picked up from a row rather
than a queued task can make an id current with ``bound(request_id)``.

``DJANGO_LOG_FORMAT=json`` writes one JSON object per line: time, level, logger,
message, request_id, the task's function when in a task, any ``extra=`` fields of the
call, and the exception. Everything passes ``portal.log_masking`` (secrets, and query
strings, where patient searches and signed links live).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from portal.log_masking import mask, without_queries

HEADER = "X-Request-Id"
META_KEY = "HTTP_X_REQUEST_ID"
TASK_KEY = "portal_request_id"
# What a caller's id may look like: a UUID, a hex or base64url token, a trace id.
VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{7,127}")

request_id: ContextVar[str | None] = ContextVar("portal_request_id", default=None)
task_name: ContextVar[str | None] = ContextVar("portal_task", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def current() -> str | None:
    return request_id.get()


def valid(value) -> bool:
    return isinstance(value, str) and VALID.fullmatch(value) is not None


@contextlib.contextmanager
def bound(value: str | None, task: str | None = None):
    """Make ``value`` the current request id inside the block (``None``: a new one)."""
    id_token = request_id.set(value if valid(value) else new_request_id())
    task_token = task_name.set(task) if task else None
    try:
        yield request_id.get()
    finally:
        request_id.reset(id_token)
        if task_token is not None:
            task_name.reset(task_token)


class RequestIdMiddleware:
    """First in MIDDLEWARE: everything below, the probes included, logs with the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get(META_KEY)
        value = given if valid(given) else new_request_id()
        request.META[META_KEY] = value
        request.request_id = value
        with bound(value):
            response = self.get_response(request)
        response[HEADER] = value
        return response


# Tasks: the id travels in the task package and is current while the task runs.
_task_tokens: list = []


def on_enqueue(sender, task, **kwargs):
    value = current()
    if value:
        task[TASK_KEY] = value


def on_execute(sender, func, task, **kwargs):
    name = task.get("func")
    name = name if isinstance(name, str) else getattr(func, "__qualname__", None)
    value = task.get(TASK_KEY)
    # A task queued outside any request (the sweeper, a schedule) gets an id of its own,
    # which the tasks it queues inherit.
    _task_tokens.append(
        (request_id.set(value if valid(value) else new_request_id()), task_name.set(name))
    )


def after_execute(sender, func, task, **kwargs):
    if _task_tokens:
        id_token, name_token = _task_tokens.pop()
        request_id.reset(id_token)
        task_name.reset(name_token)


def connect_task_signals() -> None:
    from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute

    pre_enqueue.connect(on_enqueue, dispatch_uid="portal-request-id-enqueue")
    pre_execute.connect(on_execute, dispatch_uid="portal-request-id-execute")
    post_execute_in_worker.connect(after_execute, dispatch_uid="portal-request-id-executed")


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` (and ``task``) on every record, for any format."""

    def filter(self, record):
        # Django logs a 4xx/5xx after the middleware returned: from the request then.
        record.request_id = request_id.get() or getattr(
            getattr(record, "request", None), "request_id", None
        )
        record.task = task_name.get()
        return True


# The attributes every LogRecord has; anything else came from ``extra=`` (an event field).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "task",
    "request",  # django.request's: its path is in the message already
}


def _clean(value):
    """A JSON value for an event field, masked like the message."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    return mask(without_queries(str(value)))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; see the module notes for the fields."""

    def format(self, record):
        message = mask(without_queries(record.getMessage()))
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        task = getattr(record, "task", None) or task_name.get()
        if task:
            line["task"] = task
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in line:
                line[key] = _clean(value)
        if record.exc_info:
            line["exception"] = mask(without_queries(self.formatException(record.exc_info)))
        elif record.exc_text:
            line["exception"] = mask(without_queries(record.exc_text))
        if record.stack_info:
            line["stack"] = mask(self.formatStack(record.stack_info))
        # ASCII: a lone surrogate from outside text cannot break the stream's encoding.
        return json.dumps(line, default=str)
