"""Fault injection, from Python and over the loopback control API."""

import time

import pytest
import requests

from clarius_sandbox.control import _is_loopback


def test_a_status_fault_answers_count_times_then_recovers(clarius_sandbox, sandbox_api):
    clarius_sandbox.inject("exams/accessible/", status=503, count=2, retry_after=7)
    for _ in range(2):
        r = sandbox_api.get("exams/accessible/")
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "7"
        assert "detail" in r.json()
    assert sandbox_api.get("exams/accessible/").status_code == 200


def test_a_fault_can_carry_its_own_body(clarius_sandbox, sandbox_api):
    clarius_sandbox.inject("settings/", status=429, body="slow down")
    r = sandbox_api.get("services/settings/")
    assert (r.status_code, r.text) == (429, "slow down")
    assert r.headers["Content-Type"].startswith("text/plain")


def test_a_fault_only_hits_its_method(clarius_sandbox, sandbox_api):
    clarius_sandbox.inject("services/settings/", "PATCH", status=500)
    assert sandbox_api.get("services/settings/").status_code == 200
    assert sandbox_api.patch("services/settings/", json={}).status_code == 500
    assert sandbox_api.patch("services/settings/", json={}).status_code == 200


def test_a_fault_only_hits_matching_paths(clarius_sandbox, sandbox_api):
    clarius_sandbox.inject(r"^exams/accessible/$", status=502)
    assert sandbox_api.get("services/settings/").status_code == 200
    assert sandbox_api.get("exams/accessible/").status_code == 502


def test_a_delay_fault_stalls_then_answers_normally(clarius_sandbox, sandbox_api):
    clarius_sandbox.inject("services/settings/", delay=0.3)
    started = time.monotonic()
    r = sandbox_api.get("services/settings/")
    assert r.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_a_timeout_fault_hangs_past_the_client_timeout(clarius_sandbox, sandbox_api):
    clarius_sandbox.inject("exams/accessible/", timeout=True)
    with pytest.raises(requests.ReadTimeout):
        sandbox_api.get("exams/accessible/", timeout=0.3)
    assert sandbox_api.get("exams/accessible/", timeout=5).status_code == 200


def test_faults_reach_the_media_server(clarius_sandbox, sandbox_api):
    submission = clarius_sandbox.upload_exam(
        clarius_sandbox.add_user("Ann"), captures=1, videos=0, notify=False
    )
    url = sandbox_api.get(submission.download_url).json()["captures"][0]["url"]
    clarius_sandbox.inject(r"^/clarius-exports/captures/", status=500)
    assert requests.get(url, timeout=5).status_code == 500
    assert requests.get(url, timeout=5).status_code == 200


def test_reset_clears_pending_faults(clarius_sandbox, sandbox_api):
    clarius_sandbox.inject("services/settings/", status=500, count=5)
    clarius_sandbox.reset()
    assert sandbox_api.get("services/settings/").status_code == 200


def test_a_fault_needs_an_effect():
    from clarius_sandbox.faults import Fault

    with pytest.raises(ValueError):
        Fault("x")


# --- the control API ----------------------------------------------------------------------


def control(sandbox, method, path, **kwargs):
    return requests.request(method, f"{sandbox.api_origin}/_sandbox/{path}", timeout=5, **kwargs)


def test_faults_can_be_injected_over_http(clarius_sandbox, sandbox_api):
    body = {"path_regex": "exams/accessible/", "method": "GET", "status": 503, "retry_after": 3}
    r = control(clarius_sandbox, "POST", "faults", json=body)
    assert r.status_code == 201
    assert r.json()[0]["status"] == 503
    response = sandbox_api.get("exams/accessible/")
    assert (response.status_code, response.headers["Retry-After"]) == (503, "3")
    assert control(clarius_sandbox, "GET", "faults").json() == []


def test_the_control_api_refuses_a_bad_fault(clarius_sandbox):
    assert control(clarius_sandbox, "POST", "faults", json={"status": 500}).status_code == 400
    bad = {"path_regex": "x", "status": 999}
    assert control(clarius_sandbox, "POST", "faults", json=bad).status_code == 400


def test_the_control_api_drops_notifications_and_resets(clarius_sandbox, clarius_webhook_receiver):
    clarius_sandbox.state.settings["notification_url"] = clarius_webhook_receiver.url
    assert (
        control(clarius_sandbox, "POST", "drop-notifications", json={"count": 1}).status_code == 204
    )
    clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"), captures=0, videos=0)
    clarius_sandbox.wait_for_deliveries()
    assert clarius_webhook_receiver.received == []
    assert control(clarius_sandbox, "POST", "reset").status_code == 204
    assert clarius_sandbox.state.users == {}


def test_the_control_api_adds_users_and_uploads_exams(clarius_sandbox):
    user = control(clarius_sandbox, "POST", "users", json={"name": "Ann", "research_bundle": True})
    assert user.status_code == 201
    token = user.json()["customer_token"]
    exam = control(
        clarius_sandbox,
        "POST",
        "exams",
        json={"customer_token": token, "captures": 1, "videos": 0, "notify": False},
    )
    assert exam.status_code == 201
    assert exam.json()["customer_id"] == token
    (summary,) = control(clarius_sandbox, "GET", "exams").json()
    assert summary["exam_uuid"] == exam.json()["exam_uuid"]
    assert control(clarius_sandbox, "GET", "").json()["counts"]["exams"] == 1
    unknown = control(clarius_sandbox, "POST", "exams", json={"customer_token": "nobody"})
    assert unknown.status_code == 400


def test_the_control_api_is_for_loopback_clients_only():
    assert _is_loopback("127.0.0.1") and _is_loopback("::1")
    assert not _is_loopback("192.0.2.10")
    assert not _is_loopback(None)
