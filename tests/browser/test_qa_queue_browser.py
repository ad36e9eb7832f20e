# ruff: noqa: F811 (the fixtures imported from queue_fixtures are arguments here)
"""The QA queue in a real browser (axe-core and the phone width checked on each page):
the queue, the scoring page with its rubric, and the exam page's Flag for QA."""

import pytest

from portal.qa.models import QAReview
from tests.browser.test_login_browser import log_in
from tests.qa.queue_fixtures import media_root, people, reviews  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_lead_sees_the_queue_and_a_reviewer_scores(page, live_server, reviews, axe):
    log_in(page, live_server, "lena@example.org")
    page.goto(f"{live_server.url}/qa/")
    assert page.locator(".qa-badge-overdue").first.inner_text() == "Overdue"
    page.goto(f"{live_server.url}/qa/reviews/{reviews['open'].pk}/")
    assert page.locator("#qa-assignee").is_visible()
    page.context.clear_cookies()

    log_in(page, live_server, "quinn@example.org")
    page.goto(f"{live_server.url}/qa/reviews/{reviews['quinn'].pk}/")
    page.check("#quality-4")
    page.check("input[name=interpretation][value=false_positive]")
    page.click("button[name=then][value=stay]")
    assert page.locator(".has-error").count() >= 1
    axe.check(page)
    page.fill("textarea[name=interpretation_note]", "Lung point missed.")
    page.click("button[name=then][value=stay]")
    page.wait_for_selector("text=QA not passed")
    assert QAReview.objects.get(pk=reviews["quinn"].pk).is_done
    page.goto(f"{live_server.url}/qa/?tab=done")


def test_a_reviewer_flags_an_exam_for_qa(page, live_server, reviews, axe):
    exam = reviews["open"].exam
    QAReview.objects.filter(exam=exam).delete()
    exam.signed_at = exam.last_submitted_at
    exam.save(update_fields=["signed_at"])
    log_in(page, live_server, "rita@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    page.click("summary:has-text('Flag for QA')")
    page.fill("#qa-flag-note", "Check the depth.")
    axe.check(page)
    page.click(".qa-flag-form button[type=submit]")
    page.wait_for_selector("[data-qa-status]")
    assert "In QA" in page.locator("[data-qa-status]").inner_text()


def test_a_lead_assigns_the_whole_page(page, live_server, reviews, people, axe):
    log_in(page, live_server, "lena@example.org")
    page.goto(f"{live_server.url}/qa/")
    page.check("input[data-qa-select-all]")
    assert page.locator("[data-qa-count]").inner_text() == "2 ticked"
    page.select_option("#qa-bulk-assignee", label="Rita QA")
    page.click("button[name=action][value=assign]")
    page.wait_for_selector(".messages")
    axe.check(page)
    assert set(QAReview.objects.filter(assignee=people["rita"]).values_list("pk", flat=True)) == {
        reviews["open"].pk,
        reviews["quinn"].pk,
    }
