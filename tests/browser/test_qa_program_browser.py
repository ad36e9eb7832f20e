"""The QA program dashboard in a real browser (axe-core and the phone width checked):
its charts with their figures as text, the tables and the period form."""

import pytest

from tests.browser.test_login_browser import log_in
from tests.qa.program_fixtures import END, START, build_program

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_qa_lead_reads_the_program(page, live_server, northside, southside, alice, bob, charlie):
    build_program(northside, southside, alice, bob, charlie)
    log_in(page, live_server, "alice@example.org")
    page.goto(f"{live_server.url}/qa/program/?start={START}&end={END}")
    text = page.locator("main").inner_text()
    assert "QA program" in text and "Overdue" in text
    assert page.locator("main svg").count() >= 3
    page.click("main button:has-text('Show')")
    page.wait_for_load_state()
    assert "QA program" in page.locator("h1").inner_text()
