import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, live_server, email, password=PASSWORD):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_a_member_logs_in_switches_institution_and_logs_out(page, live_server, alice, screenshot):
    log_in(page, live_server, "alice@example.org")
    assert page.locator("h1").inner_text() == "Northside Clinic"
    screenshot("overview")

    page.select_option("#institution-select", "southside")
    page.click(".institution-switcher button")
    assert page.locator("h1").inner_text() == "Southside Hospital"
    assert "now working in Southside Hospital" in page.locator(".messages").inner_text()

    page.click("text=Log out")
    assert page.url.endswith("/accounts/login/")
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url


def test_a_wrong_password_shows_an_error_in_the_form(page, live_server, bob):
    log_in(page, live_server, "bob@example.org", "not-the-password")
    assert "correct email address and password" in page.locator(".form-errors").inner_text()
