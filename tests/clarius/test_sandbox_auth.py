"""Sandbox authentication: Service API keys, research tokens, and what each may reach."""

import pytest

SERVICE_PATHS = [
    ("GET", "services/confirmed-tokens/"),
    ("GET", "exams/accessible/"),
    ("GET", "services/settings/"),
    ("GET", "services/notifications/records/"),
    ("GET", "services/api-keys/"),
    ("GET", "exams/applications/"),
    ("GET", "services/applications/"),
]


@pytest.mark.parametrize(("method", "path"), SERVICE_PATHS)
def test_it_refuses_a_request_without_a_key(sandbox_anonymous, method, path):
    r = sandbox_anonymous.request(method, path)
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}
    assert r.headers["WWW-Authenticate"] == "Service-API-Key"


@pytest.mark.parametrize(
    "header",
    [
        "Service-API-Key nope1234.wrongsecretwrongsecretwrongsecret",
        "Service-API-Key ",
        "Bearer whatever",
        "Token 0123",
    ],
)
def test_it_refuses_a_bad_key(sandbox_anonymous, header):
    r = sandbox_anonymous.get("services/settings/", headers={"Authorization": header})
    assert r.status_code == 401
    assert "detail" in r.json()


def test_it_refuses_the_right_prefix_with_the_wrong_secret(clarius_sandbox, sandbox_anonymous):
    prefix = clarius_sandbox.api_key.split(".")[0]
    header = f"Service-API-Key {prefix}.notthesecretatallnotthesecretatall"
    r = sandbox_anonymous.get("services/settings/", headers={"Authorization": header})
    assert r.status_code == 401
    assert r.json() == {"detail": "Invalid API key."}


def test_it_accepts_the_onboarding_key(sandbox_api):
    assert sandbox_api.get("services/settings/").status_code == 200


def test_it_hands_out_a_research_token_for_good_credentials(clarius_sandbox, sandbox_anonymous):
    body = {"username": clarius_sandbox.research_username, "password": "research-pass"}
    first = sandbox_anonymous.post("token-auth/", json=body)
    second = sandbox_anonymous.post("token-auth/", json=body)
    assert first.status_code == 200
    assert len(first.json()["token"]) == 64
    assert first.json() == second.json()  # one token per user, like DRF's authtoken


@pytest.mark.parametrize(
    "body",
    [
        {"username": "researcher@example.com", "password": "wrong"},
        {"username": "someone@example.com", "password": "research-pass"},
        {"username": "researcher@example.com"},
        {},
    ],
)
def test_it_refuses_bad_research_credentials_with_400(sandbox_anonymous, body):
    r = sandbox_anonymous.post("token-auth/", json=body)
    assert r.status_code == 400
    assert "token" not in r.json()


def test_a_research_token_does_not_open_the_service_api(sandbox_research):
    assert sandbox_research.get("services/settings/").status_code == 401


def test_a_service_key_does_not_open_the_research_api(clarius_sandbox, sandbox_api):
    exam = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"), notify=False)
    r = sandbox_api.get(f"exams/rawdata/{exam.exam_uuid}/")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Token"


def test_an_unknown_research_token_is_refused(clarius_sandbox, sandbox_anonymous):
    exam = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"), notify=False)
    r = sandbox_anonymous.get(
        f"exams/rawdata/{exam.exam_uuid}/", headers={"Authorization": "Token " + "0" * 64}
    )
    assert r.status_code == 401
    assert r.json() == {"detail": "Invalid token."}


def test_an_unknown_path_is_a_json_404(sandbox_api):
    r = sandbox_api.get("services/nothing-here/")
    assert r.status_code == 404
    assert r.json() == {"detail": "Not found."}


def test_a_wrong_method_is_a_json_405(sandbox_api):
    r = sandbox_api.delete("services/settings/")
    assert r.status_code == 405
    assert "PATCH" in r.headers["Allow"]
    assert r.json() == {"detail": 'Method "DELETE" not allowed.'}
