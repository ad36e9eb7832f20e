"""JSON log lines: the request id on each, carried into tasks; no secret, no patient name."""

import io
import json
import logging

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from integrations.clarius.account.registration import active_endpoint
from portal.log_masking import MaskSecretsFilter
from portal.metrics import logs
from portal.work.queueing import enqueue

API_KEY = "clarius-service-key-3f9a8b7c6d5e"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
logger = logging.getLogger(__name__)
SEEN = []


@pytest.fixture
def json_lines():
    """Every log record, formatted as the console handler does with DJANGO_LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    handler.addFilter(MaskSecretsFilter())
    root = logging.getLogger()
    # runserver's request lines do not propagate: they have the console handler of their own.
    loggers = [root, logging.getLogger("django.server")]
    for each in loggers:
        each.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        for each in loggers:
            each.removeHandler(handler)
        root.setLevel(previous)


def test_a_request_logs_json_lines_with_its_id_and_no_secret(db, settings, json_lines):
    settings.CLARIUS_API_KEY = API_KEY
    secret = active_endpoint().secret
    response = Client().post(
        reverse("clarius-notifications", args=[secret]),
        "not json",
        content_type="application/json",
        HTTP_X_REQUEST_ID="trace-0001-abcdef",
    )
    assert response.status_code == 400
    assert response["X-Request-Id"] == "trace-0001-abcdef"
    with logs.bound("trace-0001-abcdef"):
        logger.warning(
            "Clarius refused key %s; partner secret %s",
            API_KEY,
            WEBHOOK_SECRET,
            extra={"event": "clarius.refused", "attempt": 2, "url": f"/x/?token={API_KEY}"},
        )

    lines = json_lines()
    ours = [line for line in lines if line["request_id"] == "trace-0001-abcdef"]
    loggers = {line["logger"] for line in ours}
    assert {"integrations.clarius.ingestion.webhooks", "django.request", __name__} <= loggers
    for line in ours:
        assert set(line) >= {"time", "level", "logger", "message", "request_id"}
        assert line["time"].endswith("+00:00")
    event = next(line for line in ours if line["logger"] == __name__)
    assert event["level"] == "WARNING"
    assert event["event"] == "clarius.refused" and event["attempt"] == 2
    assert event["message"] == "Clarius refused key ***; partner secret whsec_***"
    text = json.dumps(lines)
    for leaked in (secret, API_KEY, WEBHOOK_SECRET.removeprefix("whsec_")):
        assert leaked not in text


def test_an_id_not_like_one_is_replaced(db):
    for given in ("short", "has space in it", "x" * 200, "new\nline-0123456789", "é" * 20):
        response = Client().get("/healthz", HTTP_X_REQUEST_ID=given)
        returned = response["X-Request-Id"]
        assert returned != given and len(returned) == 32 and returned.isalnum()
    a, b = Client().get("/healthz"), Client().get("/healthz")
    assert a["X-Request-Id"] != b["X-Request-Id"]


def test_no_patient_name_reaches_the_log(db, alice, northside, json_lines, client):
    """The worklist search carries a patient's name in its query; request lines logged
    anywhere (the development server, an exception's URL) keep no query value."""
    from tests.factories import make_exam

    make_exam(northside, alice, patient_name="Zelda Quixote")
    client.force_login(alice)
    assert client.get("/", {"q": "Zelda Quixote"}).status_code == 200
    logging.getLogger("django.server").info(
        '"%s" %s %s', "GET /?q=Zelda+Quixote&state=new HTTP/1.1", "200", "1234"
    )
    try:
        raise ValueError("could not open https://portal.example.org/exams/?q=Zelda%20Quixote")
    except ValueError:
        logger.exception("failed")
    text = json.dumps(json_lines(), ensure_ascii=False)
    assert "?q=…&state=…" in text
    assert "Zelda" not in text and "Quixote" not in text


def remember_request_id(label):
    """A task: what request id is current while it runs, and a log line of its own."""
    logger.info("task for %s", label)
    SEEN.append((label, logs.current()))


def test_the_request_id_follows_a_request_into_the_task_it_queued(
    db, json_lines, django_capture_on_commit_callbacks
):
    """The task runs synchronously here (Q_CLUSTER sync), through django-q2's worker code."""
    SEEN.clear()

    def view(request):
        with django_capture_on_commit_callbacks(execute=True):
            enqueue(remember_request_id, "notification")
        from django.http import HttpResponse

        return HttpResponse("queued")

    request = RequestFactory().post("/", HTTP_X_REQUEST_ID="notification-req-42")
    response = logs.RequestIdMiddleware(view)(request)
    assert response["X-Request-Id"] == "notification-req-42"
    assert SEEN == [("notification", "notification-req-42")]
    task_line = next(line for line in json_lines() if line["message"] == "task for notification")
    assert task_line["request_id"] == "notification-req-42"
    assert task_line["task"] == f"{__name__}.remember_request_id"
    # Outside the request no id is left current.
    assert logs.current() is None


def test_a_task_queued_outside_a_request_gets_an_id_of_its_own(
    db, django_capture_on_commit_callbacks
):
    SEEN.clear()
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(remember_request_id, "sweep")
    [(label, value)] = SEEN
    assert label == "sweep" and logs.valid(value)


def test_gunicorn_access_lines_keep_no_query_value():
    """The access log: the request line, the query and the referer (a worklist search)."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from portal.log_masking import GunicornLogger

    request = SimpleNamespace(
        method="GET",
        path="/",
        query="q=Zelda+Quixote",
        version=(1, 1),
        headers=[("REFERER", "https://portal.example.org/?q=Zelda+Quixote")],
        uri="/?q=Zelda+Quixote",
    )
    response = SimpleNamespace(
        status="200 OK", sent=10, headers=[("X-Request-Id", "abc")], response_length=10
    )
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/?q=Zelda+Quixote",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "QUERY_STRING": "q=Zelda+Quixote",
        "PATH_INFO": "/",
        "HTTP_REFERER": "https://portal.example.org/?q=Zelda+Quixote",
    }
    atoms = GunicornLogger(Config()).atoms(response, request, environ, timedelta(seconds=0.01))
    assert atoms["r"] == "GET /?q=… HTTP/1.1" and atoms["q"] == "q=…"
    assert not any("Zelda" in str(v) for v in atoms.values())


def test_outside_text_cannot_break_a_line(json_lines):
    logger.warning("odd %s", "\ud800 é \x00 \u202e")
    [line] = [line for line in json_lines() if line["logger"] == __name__]
    assert line["message"] == "odd \ud800 é \x00 \u202e"
