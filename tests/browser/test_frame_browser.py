"""The page frame on every page (templates/base.html, static/css/portal.css), and the
pages no other browser test opens, at both sizes: axe-core and the overflow check run
on each (tests/browser/conftest.py)."""

import pytest
from django.urls import reverse

from integrations.webhooks import signatures
from integrations.webhooks.models import Endpoint
from portal import events
from portal.worksheets.models import ExamType
from tests.browser.test_login_browser import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def visit(page, url):
    response = page.goto(url)
    assert response.status < 400, (url, response.status)
    return response


def test_the_first_tab_skips_to_the_main_content(page, live_server, bob):
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}{reverse('worklist')}")
    page.keyboard.press("Tab")
    active = "document.activeElement"
    focused = page.evaluate(f"() => [{active}.className, {active}.textContent]")
    assert focused == ["skip-link", "Skip to main content"]
    assert page.locator(".skip-link").is_visible()  # shown while it has the focus
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('main') !== null")


def test_the_favicon_is_linked_and_favicon_ico_finds_it(page, live_server, db):
    visit(page, f"{live_server.url}/accounts/login/")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon.endswith("img/favicon.svg")
    response = page.goto(f"{live_server.url}/favicon.ico")
    assert response.status == 200
    assert response.url.endswith("img/favicon.svg")
    assert "svg" in response.headers["content-type"]


def test_bare_buttons_wear_the_portals_style(page, live_server, alice):
    """A <button> with no class ("Switch", "Unlink", "Retry now") is a secondary button,
    not the browser's grey one."""
    log_in(page, live_server, "alice@example.org")
    visit(page, f"{live_server.url}{reverse('clarius-my-links')}")
    style = page.evaluate(
        """() => {
          const button = document.createElement("button");
          button.textContent = "Retry now";
          document.querySelector("main").append(button);
          const s = getComputedStyle(button);
          return [s.backgroundColor, s.borderTopColor, s.borderTopLeftRadius, s.cursor];
        }"""
    )
    assert style == ["rgb(255, 255, 255)", "rgb(11, 110, 153)", "6px", "pointer"]


def test_an_admin_walks_the_pages_no_other_test_opens(page, live_server, alice, bob, northside):
    # Made directly: the page shows it, nothing is sent (the host need not resolve).
    endpoint = Endpoint.objects.create(
        institution=northside,
        url="https://hooks.example.org/a/long/path/for/the/portal/webhooks",
        events=list(events.EVENT_TYPES),
        secret_encrypted=signatures.seal(signatures.new_secret()),
    )
    lung = ExamType.objects.for_institution(northside).get(code="lung")
    log_in(page, live_server, "alice@example.org")
    for url in (
        reverse("profile"),
        reverse("password_change"),
        reverse("session-list"),
        reverse("clarius-my-links"),
        reverse("webhook-list"),
        reverse("webhook-detail", args=[endpoint.pk]),
        reverse("exam-type-list"),
        reverse("exam-type-copy", args=[lung.pk]),
        reverse("exam-type-version", args=[lung.pk, lung.templates.first().version]),
    ):
        visit(page, f"{live_server.url}{url}")
    # A message in the banner, and the 404 page, signed in.
    member = bob.memberships.get()
    visit(page, f"{live_server.url}{reverse('member-detail', args=[member.pk])}")
    page.locator(".trainee-form button").click()
    page.wait_for_selector(".messages")
    assert page.locator("main .messages").count() == 1
    response = page.goto(f"{live_server.url}/exams/999999/")
    assert response.status == 404
    assert "Page not found" in page.locator("h1").inner_text()
