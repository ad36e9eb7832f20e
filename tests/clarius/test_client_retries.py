"""Timeouts, the retry policy and error mapping, with faults injected into the sandbox."""

import socket
from datetime import UTC, datetime

import pytest

from integrations.clarius.api.client import ServiceClient
from integrations.clarius.api.errors import (
    BadRequest,
    ClariusError,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from integrations.clarius.api.transport import RetryPolicy, Timeouts, parse_retry_after

SETTINGS = r"^services/settings/$"


@pytest.fixture
def sleeps():
    return []


def make_client(sandbox, sleeps, *, key=None, retries=3, read=5.0, max_retry_after=30.0):
    return ServiceClient(
        sandbox.api_url,
        key or sandbox.api_key,
        media_origins=[sandbox.media_origin],
        allow_http=True,
        sleep=sleeps.append,
        timeouts=Timeouts(connect=2, read=read, download_read=read),
        retry=RetryPolicy(retries=retries, max_retry_after=max_retry_after),
    )


@pytest.fixture
def client(clarius_sandbox, sleeps):
    return make_client(clarius_sandbox, sleeps)


def test_a_get_is_retried_on_503_with_jittered_backoff(client, clarius_sandbox, sleeps):
    clarius_sandbox.inject(SETTINGS, "GET", status=503, count=2)
    assert client.get_settings().notification_url == ""
    assert len(sleeps) == 2
    # Full jitter: attempt n waits uniform(0, min(cap, 0.5 * 2**n)).
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0


def test_a_get_gives_up_after_the_retries(client, clarius_sandbox, sleeps):
    clarius_sandbox.inject(SETTINGS, "GET", status=503, count=10)
    with pytest.raises(ServerError) as excinfo:
        client.get_settings()
    assert excinfo.value.status == 503
    assert excinfo.value.permanent is False
    assert len(sleeps) == 3
    assert clarius_sandbox.faults.pending()[0]["count"] == 6  # four attempts in all


def test_a_429_waits_as_long_as_retry_after_says(client, clarius_sandbox, sleeps):
    clarius_sandbox.inject(SETTINGS, "GET", status=429, retry_after=7, count=2)
    client.get_settings()
    assert sleeps == [7.0, 7.0]


def test_a_retry_after_over_the_cap_is_handed_to_the_caller(clarius_sandbox, sleeps):
    client = make_client(clarius_sandbox, sleeps, max_retry_after=5)
    clarius_sandbox.inject(SETTINGS, "GET", status=429, retry_after=120)
    with pytest.raises(RateLimited) as excinfo:
        client.get_settings()
    assert excinfo.value.retry_after == 120
    assert excinfo.value.permanent is False
    assert sleeps == []


def test_a_429_without_retry_after_backs_off(client, clarius_sandbox, sleeps):
    clarius_sandbox.inject(SETTINGS, "GET", status=429)
    client.get_settings()
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5


def test_a_put_is_retried_too(client, clarius_sandbox, sleeps):
    cardiac = next(a for a in client.list_exam_applications() if a.name == "Cardiac")
    clarius_sandbox.inject(r"^services/applications/", "PUT", status=502)
    client.put_application_customisation(cardiac.uuid, [{"title": "T", "labels": ["A"]}])
    assert len(sleeps) == 1


def test_a_post_is_never_retried(client, clarius_sandbox, sleeps):
    user = clarius_sandbox.add_user("Ann")
    clarius_sandbox.inject(r"customer-confirmations", "POST", status=503, count=2)
    with pytest.raises(ServerError) as excinfo:
        client.confirm_customer(user.customer_token)
    assert excinfo.value.permanent is False  # the caller retries later, with its own backoff
    assert sleeps == []
    assert clarius_sandbox.faults.pending()[0]["count"] == 1  # exactly one attempt
    assert not clarius_sandbox.state.user(user).confirmed


def test_a_post_on_429_is_not_retried_either(client, clarius_sandbox, sleeps):
    clarius_sandbox.inject(r"api-keys", "POST", status=429, retry_after=1)
    with pytest.raises(RateLimited) as excinfo:
        client.create_api_key("k")
    assert excinfo.value.retry_after == 1
    assert sleeps == []


def test_a_patch_is_not_retried(client, clarius_sandbox, sleeps):
    clarius_sandbox.inject(SETTINGS, "PATCH", status=503)
    with pytest.raises(ServerError):
        client.update_settings(notification_url="")
    assert sleeps == []


def test_a_hanging_server_hits_the_read_timeout(clarius_sandbox, sleeps):
    client = make_client(clarius_sandbox, sleeps, retries=0, read=0.3)
    clarius_sandbox.inject(SETTINGS, "GET", timeout=True)
    with pytest.raises(TransportError) as excinfo:
        client.get_settings()
    assert excinfo.value.timeout is True
    assert excinfo.value.permanent is False
    assert excinfo.value.status is None


def test_a_read_timeout_on_a_get_is_retried(clarius_sandbox, sleeps):
    client = make_client(clarius_sandbox, sleeps, retries=2, read=0.3)
    clarius_sandbox.inject(SETTINGS, "GET", timeout=True)
    assert client.get_settings() is not None
    assert len(sleeps) == 1


def test_a_slow_but_timely_answer_is_fine(clarius_sandbox, sleeps):
    client = make_client(clarius_sandbox, sleeps, retries=0, read=2)
    clarius_sandbox.inject(SETTINGS, "GET", delay=0.2)
    assert client.get_settings() is not None


def test_a_refused_connection_is_a_transport_error_after_retries(sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ServiceClient(
        f"http://127.0.0.1:{port}/api/public/v0/",
        "Q4nmtzH5.mvIzWOlklcrFJ3iWaJTFESYCzCe8j6TQ",
        allow_http=True,
        sleep=sleeps.append,
    )
    with pytest.raises(TransportError) as excinfo:
        client.get_settings()
    assert excinfo.value.timeout is False
    assert len(sleeps) == 3


# --- error mapping ----------------------------------------------------------------------


def test_a_wrong_key_is_unauthorized_and_never_shown(clarius_sandbox, sleeps):
    wrong = "Q4nmtzH5.thisIsNotTheRightSecretAtAll0"
    client = make_client(clarius_sandbox, sleeps, key=wrong)
    with pytest.raises(Unauthorized) as excinfo:
        client.get_settings()
    error = excinfo.value
    assert error.status == 401 and error.permanent is True
    assert "Invalid API key" in error.body_excerpt
    for text in (str(error), repr(error), error.body_excerpt, repr(client)):
        assert "thisIsNotTheRightSecretAtAll0" not in text
    assert "Q4nmtzH5.***" in repr(client)


@pytest.mark.parametrize(
    "status, error_class, permanent",
    [
        (400, BadRequest, True),
        (401, Unauthorized, True),
        (403, Forbidden, True),
        (404, NotFound, True),
        (409, ClariusError, True),
        (500, ServerError, False),
        (502, ServerError, False),
        (504, ServerError, False),
    ],
)
def test_statuses_map_to_error_classes(clarius_sandbox, sleeps, status, error_class, permanent):
    client = make_client(clarius_sandbox, sleeps, retries=0)
    clarius_sandbox.inject(SETTINGS, "GET", status=status)
    with pytest.raises(error_class) as excinfo:
        client.get_settings()
    assert excinfo.value.status == status
    assert excinfo.value.permanent is permanent
    assert isinstance(excinfo.value, ClariusError)


def test_an_echoed_key_is_scrubbed_from_the_excerpt(clarius_sandbox, sleeps):
    client = make_client(clarius_sandbox, sleeps, retries=0)
    key = clarius_sandbox.api_key
    secret = key.split(".")[1]
    body = f"upstream said: Authorization: Service-API-Key {key} (secret {secret}) " + "x" * 600
    clarius_sandbox.inject(SETTINGS, "GET", status=500, body=body)
    with pytest.raises(ServerError) as excinfo:
        client.get_settings()
    error = excinfo.value
    assert len(error.body_excerpt) <= 300
    for text in (str(error), repr(error), error.body_excerpt):
        assert secret not in text
    assert "upstream said" in error.body_excerpt


def test_a_non_json_answer_is_an_invalid_response(clarius_sandbox, sleeps):
    from integrations.clarius.api.errors import InvalidResponse

    client = make_client(clarius_sandbox, sleeps, retries=0)
    clarius_sandbox.inject(SETTINGS, "GET", status=200, body="<html>maintenance</html>")
    with pytest.raises(InvalidResponse) as excinfo:
        client.get_settings()
    assert excinfo.value.permanent is False


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_503_with_retry_after_waits_that_long(client, clarius_sandbox, sleeps):
    clarius_sandbox.inject(SETTINGS, "GET", status=503, retry_after=3)
    client.get_settings()
    assert sleeps == [3.0]
