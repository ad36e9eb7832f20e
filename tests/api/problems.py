"""Assertions on the API's errors: RFC 9457 problem details."""

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def problem(response, status: int) -> dict:
    """The problem an error response holds, checked for the one shape."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) - {"errors"} == PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["type"].startswith(("http://", "https://")) and "/api/problems/" in body["type"]
    assert body["title"] and body["detail"]
    return body


def field_error(response, field: str, status: int = 400) -> str:
    """The reasons given for ``field`` in a validation problem, joined."""
    body = problem(response, status)
    reasons = [e["detail"] for e in body["errors"] if e.get("field") == field]
    assert reasons, body
    assert all(reason in body["detail"] for reason in reasons)
    return " ".join(reasons)
