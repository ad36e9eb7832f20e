# ruff: noqa: F811 (the fixtures imported from calibration_fixtures are arguments here)
"""Calibration, accuracy and outcomes in a real browser (axe-core and the phone width
checked on each page): a QA lead reads both reports, a reviewer records an outcome."""

import pytest

from portal.qa.models import Outcome
from tests.browser.test_login_browser import log_in
from tests.qa.calibration_fixtures import (  # noqa: F401
    dave,
    double_read,
    lead,
    outcome,
    qa_reviewers,
    signed_exam,
)

pytestmark = pytest.mark.django_db(transaction=True)


def warm_up(page, live_server):
    """The live server's first request loads the whole portal: give it time once."""
    page.goto(f"{live_server.url}/accounts/login/", timeout=90_000)


A, FP = "agree", "false_positive"


def test_a_lead_reads_calibration_and_accuracy(
    page, live_server, northside, lead, qa_reviewers, dave, screenshot
):
    ann, ben, cat = qa_reviewers
    reads = [
        ((4, A, True), (4, A, True)),
        ((2, FP, False), (3, FP, False)),
        ((5, A, True), (4, A, True)),
        ((3, A, True), (2, A, False)),
        ((1, FP, False), (1, A, False)),
        ((4, A, True), (5, A, True)),
    ]
    for (first, second), (a, b) in zip(
        [(ann, ben), (ben, cat), (cat, ann)] * 2, reads, strict=True
    ):
        double_read(northside, first, second, a, b)
    exam = signed_exam(northside, dave, {"ruq_fluid": "present", "pelvic_fluid": "absent"})
    outcome(exam, {"ruq_fluid": "negative", "pelvic_fluid": "negative"})
    warm_up(page, live_server)
    log_in(page, live_server, "lena@example.org")
    page.goto(f"{live_server.url}/qa/calibration/")
    assert "Reviewer Ann" in page.locator(".qa-cal-table").inner_text()
    page.click("summary:has-text('How to read the numbers')")
    screenshot("qa-calibration")
    page.goto(f"{live_server.url}/qa/accuracy/")
    assert "Dave Operator" in page.locator(".qa-acc-table").inner_text()
    assert page.locator(".qa-acc-discordant tbody tr").count() == 1
    screenshot("qa-accuracy")


def test_a_reviewer_records_an_outcome(page, live_server, northside, bob, dave, axe, screenshot):
    exam = signed_exam(northside, dave, {"ruq_fluid": "present"})
    warm_up(page, live_server)
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    page.click("text=Record the outcome")
    page.click("button:has-text('Save the outcome')")  # the browser asks for the study
    page.fill("#qa-outcome-source", "CT abdomen")
    page.check("input[name=result_ruq_fluid][value=positive]")
    page.click("button:has-text('Save the outcome')")
    page.wait_for_selector(".qa-outcome-current")
    screenshot("qa-outcome")
    axe.check(page)
    assert Outcome.objects.get(exam=exam).results == {"ruq_fluid": "positive"}
