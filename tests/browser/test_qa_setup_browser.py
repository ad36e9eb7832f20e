"""The QA settings page and the members' QA roles in a real browser (axe-core and the
phone width checked on each page): an administrator saves settings, meets an error in
the extra questions, and makes a reviewer a QA reviewer."""

import pytest

from portal.qa.models import ExamTypeQA
from portal.tenants.models import Membership
from portal.worksheets.models import ExamType
from tests.browser.test_login_browser import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_sets_up_the_qa_program(page, live_server, trio, northside, screenshot):
    page.goto(f"{live_server.url}/accounts/login/", timeout=90_000)
    log_in(page, live_server, "alice@example.org")
    page.goto(f"{live_server.url}/qa/settings/")
    page.check("#id_is_active")
    page.fill("#id_sample_percent", "20")
    fast = ExamType.objects.get(institution=northside, code="fast")
    page.fill(f"#id_type-{fast.pk}-questions", '[{"code": "Bad", "label": "x", "type": "yesno"}]')
    page.click("button:has-text('Save')")
    assert "Question 1" in page.locator(".field.has-error").first.inner_text()
    screenshot("qa-settings-error")
    page.fill(
        f"#id_type-{fast.pk}-questions", '[{"code": "gain", "label": "Gain", "type": "yesno"}]'
    )
    page.click("button:has-text('Save')")
    assert "The QA settings are saved." in page.locator(".messages").inner_text()
    assert ExamTypeQA.objects.get(exam_type=fast).questions[0]["code"] == "gain"
    screenshot("qa-settings")

    page.goto(f"{live_server.url}/institution/members/")
    page.click("button[aria-label='Make QA reviewer: bob@example.org']")
    assert "is now a QA reviewer" in page.locator(".messages").inner_text()
    assert Membership.objects.get(user=trio[1], institution=northside).is_qa_reviewer
    bob = Membership.objects.get(user=trio[1], institution=northside)
    page.goto(f"{live_server.url}/institution/members/{bob.pk}/")
    assert page.locator(".state-qa").inner_text() == "QA reviewer"
