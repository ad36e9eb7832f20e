# ruff: noqa: F811 (the fixtures imported from credentialing_fixtures are arguments here)
"""Credentialing in a real browser (axe-core and the phone width checked on each page):
the department table, one operator's page with the grant form, an operator's own."""

import pytest

from portal.qa import credentialing
from portal.qa.models import Credential
from tests.browser.test_login_browser import log_in
from tests.qa.credentialing_fixtures import exam_type, people, reviewed, set_required  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def history(people, northside):
    lung = exam_type(northside)
    set_required(lung, 3)
    for passed in (True, True, False, None):
        reviewed(
            northside,
            people["dana"],
            lung,
            passed=passed,
            scored_by=people["lee"],
            feedback="Fan through the whole lung.",
        )
    for _ in range(3):
        last = reviewed(northside, people["bob"], lung, passed=True, scored_by=people["lee"])
    credentialing.record_if_reached(last, last.scored_at)
    credentialing.grant(
        northside.pk,
        people["bob"],
        exam_type(northside, "fast"),
        people["alice"],
        "Credentialed at St Elsewhere, 2024",
    )
    return {**people, "lung": lung}


def test_an_admin_reads_the_department_and_grants(page, live_server, history, axe):
    log_in(page, live_server, "alice@example.org")
    page.goto(f"{live_server.url}/qa/credentialing/?exam_type=lung")
    assert page.locator("progress").count() >= 2
    page.select_option("#qa-cred-status", "in_training")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**status=in_training**")
    page.click("text=Dana Clinician")
    page.wait_for_selector("text=Fan through the whole lung.")
    page.select_option("#qa-grant-type", str(history["lung"].pk))
    page.fill("#qa-grant-note", "Credentialed at St Elsewhere, 2024")
    page.click("button:has-text('Grant')")
    page.wait_for_selector("text=by your grant")
    assert Credential.objects.filter(user=history["dana"], basis="grant").exists()
    axe.check(page)


def test_an_operator_sees_their_own_progress(page, live_server, history):
    log_in(page, live_server, "dana@example.org")
    page.goto(f"{live_server.url}/qa/credentialing/")
    assert page.locator("text=2 of 3").first.is_visible()
    page.goto(f"{live_server.url}/qa/credentialing/{history['dana'].pk}/")
    page.wait_for_selector("text=Fan through the whole lung.")
