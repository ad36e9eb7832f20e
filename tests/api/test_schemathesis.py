"""Schemathesis against the live app: every operation of the OpenAPI document, fed cases
generated from it, answers within what the document says.

For each operation: no 5xx (``not_a_server_error``), only documented status codes,
content types and headers, and bodies that match the documented schemas (problems
included). The document is docs/openapi.yaml, which ``test_openapi`` holds equal to the
generated one. Requests go to the WSGI application itself (committed data: a
transactional database), as bob, a reviewer at Northside, with an institution API key
(write scope) or a session cookie and its CSRF token; every other case asks for one of
the seeded objects instead of a random id, so the answers are not all 404s.

The number of examples per operation is bounded (``MAX_EXAMPLES``) to keep the run near a
minute on SQLite; ``HYPOTHESIS_PROFILE=thorough`` does not raise it: run the
``schemathesis`` CLI against ``make demo`` for a long run.
"""

from pathlib import Path

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.keyring import key_for
from tests.factories import make_exam

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
MAX_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_path(DOCUMENT)
SEEDED = {}


@pytest.fixture
def seeded(transactional_db, trio, northside, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    settings.PORTAL_API_KEY_RATE = "1000000/min"
    bob = trio[1]
    exam = make_exam(northside, bob, patient_name="Nora North", captures=3)
    SEEDED.clear()
    SEEDED["exam"] = exam.pk
    SEEDED["capture"] = exam.captures.order_by("pk").first().pk
    SEEDED["key"] = key_for(bob, "northside", scope="write")
    from django.test import Client

    client = Client()
    client.force_login(bob)
    client.get("/")  # a CSRF cookie for the session's writes
    SEEDED["session"] = client.cookies["sessionid"].value
    SEEDED["csrf"] = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    return SEEDED


APP = None


def app():
    global APP
    if APP is None:
        APP = get_wsgi_application()
    return APP


def credentials(auth: str) -> dict:
    if auth == "key":
        return {"Authorization": f"Bearer {SEEDED['key']}"}
    cookie = f"sessionid={SEEDED['session']}; csrftoken={SEEDED['csrf']}"
    return {"Cookie": cookie, "X-CSRFToken": SEEDED["csrf"], "Referer": "http://localhost/"}


def operations():
    return [result.ok() for result in schema.get_all_operations()]


def cases(operation):
    """Valid cases and invalid ones (a wrong type, a value out of range, an extra field)."""
    return st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )


def exercise(operation, auth):
    @given(case=cases(operation))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        if "id" in case.path_parameters and hash(str(case.path_parameters["id"])) % 2 == 0:
            kind = "capture" if case.path.startswith("/api/v1/captures/") else "exam"
            case.path_parameters["id"] = SEEDED[kind]
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        case.headers = {**headers, **credentials(auth)}  # the caller is the key or session
        case.call_and_validate(app=app(), checks=CHECKS)

    run()


@pytest.mark.parametrize("auth", ["key", "session"])
def test_every_operation_answers_as_documented(seeded, auth):
    failures = []
    for operation in operations():
        try:
            exercise(operation, auth)
        except Exception as error:  # every operation's failure, not the first only
            failures.append(f"{operation.method.upper()} {operation.path}:\n{error}")
    assert not failures, "\n\n".join(failures)
