"""Fixtures shared by the whole suite, and the rule that CI never skips silently.

The trio follows the portal's convention: **alice** is the administrator of Northside
(and also a clinician at Southside, so she can switch), **bob** is a reviewer at
Northside only, **charlie** is the administrator of Southside and a stranger to Northside.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

from portal.tenants.models import Institution, Membership

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Hypothesis profiles for the hostile-input suite (tests/hostile/). CI's is bounded so the
# whole run stays well inside its time; derandomised so a CI failure replays the same way.
# Examples run inside one test's transaction, so the function-scoped database fixtures
# are shared by design: each property test cleans up or asserts on deltas.
_HYPOTHESIS_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=60, derandomize=True, **_HYPOTHESIS_COMMON)
settings.register_profile("dev", max_examples=40, **_HYPOTHESIS_COMMON)
settings.register_profile("thorough", max_examples=1000, **_HYPOTHESIS_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev"))
PASSWORD = "correct-horse-battery"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped test is a failure: a missing service must not pass unseen."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"Skipped under CI=true, which counts as a failure: {reason}"


@pytest.fixture
def northside(db):
    return Institution.objects.create(name="Northside Clinic", slug="northside")


@pytest.fixture
def southside(db):
    return Institution.objects.create(name="Southside Hospital", slug="southside")


def make_user(email, full_name=""):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(email=email, password=PASSWORD, full_name=full_name)


@pytest.fixture
def alice(northside, southside):
    user = make_user("alice@example.org", "Alice Admin")
    Membership.objects.create(user=user, institution=northside, role=Membership.Role.ADMIN)
    Membership.objects.create(user=user, institution=southside, role=Membership.Role.CLINICIAN)
    return user


@pytest.fixture
def bob(northside):
    user = make_user("bob@example.org", "Bob Reviewer")
    Membership.objects.create(user=user, institution=northside, role=Membership.Role.REVIEWER)
    return user


@pytest.fixture
def charlie(southside):
    user = make_user("charlie@example.org", "Charlie Stranger")
    Membership.objects.create(user=user, institution=southside, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def trio(alice, bob, charlie):
    return alice, bob, charlie


@pytest.fixture(autouse=True)
def force_login_is_not_an_audited_sign_in(monkeypatch):
    """``client.force_login`` is a test's set-up, not a sign-in: it writes no "login" event
    to the audit log, so a test's log holds only what the test did. Signing in through
    the login form (``tests/usersessions``) is audited as usual."""
    from django.test import Client

    from portal.usersessions import audit

    original = Client.force_login
    record = audit.record

    def record_all_but_sign_ins(request, user, action, **kwargs):
        if action != audit.LOGIN:
            record(request, user, action, **kwargs)

    def force_login(self, user, backend=None):
        with monkeypatch.context() as patch:
            patch.setattr(audit, "record", record_all_but_sign_ins)
            return original(self, user, backend)

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def capture_download_threads_end_with_the_test():
    """The capture download threads keep their database connections from one exam to
    the next; a test's end ends them, so no connection outlives the test database."""
    yield
    from integrations.clarius.ingestion import media_fetch

    media_fetch.stop_downloaders()


# The Clarius sandbox fixtures, for every folder of tests.
from tests.sandbox_fixtures import (  # noqa: E402, F401
    clarius_sandbox,
    clarius_sandbox_server,
    clarius_settings,
    clarius_webhook_receiver,
    sandbox_anonymous,
    sandbox_api,
    sandbox_research,
)
