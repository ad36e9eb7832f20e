"""Schemathesis on the QA settings operations as a QA lead (the suite-wide run in
tests/api/test_schemathesis.py asks as a reviewer, who gets 404s here): generated
cases, valid and not, answer as documented and never with a 5xx."""

import pytest
from django.test import Client

from portal.tenants.models import Membership
from tests.api import test_schemathesis as suite
from tests.api.keyring import key_for

PATHS = ("/api/v1/qa/settings/", "/api/v1/qa/exam-types/{code}/")


@pytest.fixture
def as_lead(transactional_db, trio, northside, settings):
    settings.PORTAL_API_KEY_RATE = "1000000/min"
    bob = trio[1]
    Membership.objects.filter(user=bob, institution=northside).update(is_qa_lead=True)
    suite.SEEDED.clear()
    suite.SEEDED["key"] = key_for(bob, "northside", scope="write")
    client = Client()
    client.force_login(bob)
    client.get("/")
    suite.SEEDED["session"] = client.cookies["sessionid"].value
    suite.SEEDED["csrf"] = (
        client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    )


@pytest.mark.parametrize("auth", ["key", "session"])
def test_the_qa_settings_operations_answer_as_documented(as_lead, auth):
    failures = []
    for operation in suite.operations():
        if operation.path not in PATHS:
            continue
        try:
            suite.exercise(operation, auth)
        except Exception as error:
            failures.append(f"{operation.method.upper()} {operation.path}:\n{error}")
    assert not failures, "\n\n".join(failures)
