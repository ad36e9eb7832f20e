"""The idle timeout in a real browser, with a timeout of a few seconds: the warning shows,
then the tab lands on the login page; "Stay signed in" keeps the session; and activity
in another tab is seen before a tab signs out. Any Content-Security-Policy violation
fails these tests (tests/browser/conftest.py watches every page).

With a 6-second timeout the warning comes 3 seconds before the deadline (half the
timeout, at most a minute) and activity is written every second.
"""

import time

import pytest

from tests.browser.test_login_browser import log_in

pytestmark = pytest.mark.django_db(transaction=True)

IDLE_SECONDS = 6


@pytest.fixture
def short_timeout(settings):
    settings.PORTAL_SESSION_IDLE_SECONDS_OVERRIDE = IDLE_SECONDS


def test_an_idle_tab_is_warned_then_signed_out(page, live_server, bob, short_timeout, screenshot):
    started = time.monotonic()
    log_in(page, live_server, bob.email)
    assert page.locator("h1").inner_text() == "Northside Clinic"
    warning = page.locator("#session-timeout")
    assert warning.is_hidden()

    warning.wait_for(state="visible", timeout=IDLE_SECONDS * 1000)
    assert "You will be signed out in" in warning.inner_text()
    assert page.get_by_role("button", name="Stay signed in").is_visible()
    assert page.evaluate("document.activeElement.textContent") == "Stay signed in"
    screenshot("session-timeout-warning")

    page.wait_for_url("**/accounts/login/**", timeout=IDLE_SECONDS * 1000)
    assert time.monotonic() - started >= IDLE_SECONDS - 1
    assert "/accounts/login/?next=/" in page.url
    messages = page.locator(".messages").inner_text()
    assert f"You were signed out after {IDLE_SECONDS} seconds without activity." in messages
    page.goto(f"{live_server.url}/worklist/")
    assert "/accounts/login/" in page.url


def test_stay_signed_in_keeps_the_session(page, live_server, bob, short_timeout):
    log_in(page, live_server, bob.email)
    page.focus(".main-nav a[href='/worklist/']")
    warning = page.locator("#session-timeout")
    warning.wait_for(state="visible", timeout=IDLE_SECONDS * 1000)
    page.keyboard.press("Enter")  # the warning took the keyboard: Enter is "Stay signed in"
    warning.wait_for(state="hidden", timeout=2000)
    # The keyboard goes back where it was before the warning took it.
    assert page.evaluate("document.activeElement.textContent") == "Worklist"

    # Past the deadline the tab had before: still here, and still signed in.
    time.sleep(IDLE_SECONDS / 2 + 1)
    assert "/accounts/login/" not in page.url
    assert page.locator("h1").inner_text() == "Northside Clinic"
    page.goto(f"{live_server.url}/worklist/")
    assert "/worklist/" in page.url and "/accounts/login/" not in page.url


def test_activity_in_another_tab_keeps_an_idle_tab_signed_in(page, live_server, bob, short_timeout):
    log_in(page, live_server, bob.email)
    other = page.context.new_page()
    # The other tab is used while this one sits idle: at 2 s, then at 4 s.
    for _ in range(2):
        time.sleep(2)
        other.goto(f"{live_server.url}/worklist/")
        assert "/worklist/" in other.url
    # This tab would have been signed out at 6 s on its own deadline.
    time.sleep(IDLE_SECONDS - 4 + 1)
    assert "/accounts/login/" not in page.url
    assert page.locator("h1").inner_text() == "Northside Clinic"
    other.close()
