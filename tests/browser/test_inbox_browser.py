"""A clinician's inbox in a real browser: the header counts what is unread, the inbox
lists it, opening a notification leads to the exam's feedback and the count drops."""

import re

import pytest

from portal.notifications import emails
from portal.tenants.models import Membership
from tests.browser.test_login_browser import log_in
from tests.conftest import make_user
from tests.factories import make_exam
from tests.reports.conftest import sign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"


def unread(n):
    """The link's accessible name: the count as shown, then "unread" for screen readers."""
    return re.compile(rf"^Inbox \({n}\)\s*unread$")


def test_a_clinician_reads_signed_feedback_from_the_inbox(
    page, live_server, northside, bob, screenshot, viewport
):
    erin = make_user("erin@example.org", "Erin Clinician")
    Membership.objects.create(user=erin, institution=northside, role=Membership.Role.CLINICIAN)
    first, second = make_exam(northside, erin), make_exam(northside, erin)
    sign(first, bob, build=False)
    sign(second, bob, build=False)

    log_in(page, live_server, "erin@example.org")
    inbox = page.get_by_role("link", name=unread(2))
    assert inbox.locator(".unread-count").inner_text() == "(2)"  # what is seen
    inbox.click()
    page.wait_for_url(re.compile(r"/inbox/$"))
    assert page.locator("h1").inner_text() == "Inbox"
    items = page.locator(".inbox-item")
    assert items.count() == 2
    assert "Feedback was signed on an exam you performed" in items.first.inner_text()
    screenshot(f"inbox-{viewport['width']}")

    items.first.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/exams/{second.pk}/$"))
    assert page.locator(".inbox-link .unread-count").inner_text() == "(1)"

    page.get_by_role("link", name=unread(1)).click()
    page.get_by_role("button", name="Mark all read").click()
    page.wait_for_url(re.compile(r"/inbox/$"))
    assert page.get_by_role("link", name="Inbox", exact=True).is_visible()
    assert page.locator(".inbox-item.unread").count() == 0

    # The choices page, and the page an email's unsubscribe link opens.
    page.get_by_role("link", name="Notification choices").click()
    page.get_by_label("Email me when feedback on an exam I performed is signed").uncheck()
    page.get_by_role("button", name="Save").click()
    assert "Your notification choices are saved." in page.locator(".messages").inner_text()
    membership = Membership.objects.get(user=erin)
    token = emails.unsubscribe_token(membership.pk, "feedback_signed")
    page.goto(f"{live_server.url}/notifications/unsubscribe/{token}/")
    assert "You will receive no more emails" in page.locator("main").inner_text()
