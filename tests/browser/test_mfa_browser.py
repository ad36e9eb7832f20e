"""Second factors in a real browser: an authenticator app added and used to sign in (codes
from pyotp, as a phone would make them), a passkey made and used with Chromium's virtual
authenticator, and the policy that sends an administrator to add a factor. Every page is
checked by axe at both sizes, with no Content-Security-Policy violation."""

import re
import time

import pyotp
import pytest

from tests.browser.test_login_browser import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def log_out(page):
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")


def add_app(page, live_server):
    page.goto(f"{live_server.url}/account/security/")
    page.get_by_role("link", name="Add an authenticator app").click()
    assert page.locator(".mfa-qr-image svg").is_visible()
    secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
    page.fill("input[name=name]", "My phone")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Add the app").click()
    page.wait_for_url("**/account/security/")
    return secret


def test_an_authenticator_app_is_added_and_then_asked_for(page, live_server, bob, screenshot):
    log_in(page, live_server, bob.email)
    secret = add_app(page, live_server)
    assert "My phone" in page.locator(".mfa-factors").inner_text()
    screenshot("security")

    page.get_by_role("link", name="Make recovery codes").click()
    page.get_by_role("button", name="Make 10 new recovery codes").click()
    codes = page.locator(".recovery-code-list li").all_inner_texts()
    assert len(codes) == 10
    screenshot("recovery-codes")

    log_out(page)
    log_in(page, live_server, bob.email)
    page.wait_for_url("**/accounts/login/verify/")
    assert page.locator("h1").inner_text() == "Confirm it is you"
    screenshot("verify")
    page.fill("input[name=code]", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.get_by_role("button", name="Confirm").click()
    assert "not right" in page.locator(".mfa-app-code").inner_text()
    time.sleep(1.1)  # django-otp's throttle: a second after the first wrong code
    page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Confirm").click()
    assert page.locator("h1").inner_text() == "Northside Clinic"

    log_out(page)
    log_in(page, live_server, bob.email)
    page.get_by_text("Use a recovery code").click()
    page.fill("input[name=recovery_code]", codes[0])
    page.get_by_role("button", name="Use the recovery code").click()
    assert page.locator("h1").inner_text() == "Northside Clinic"
    assert "recovery code" in page.locator(".messages").inner_text()

    # Removing the app asks for the password again; a wrong one is refused in the form.
    page.goto(f"{live_server.url}/account/security/")
    page.get_by_role("link", name="Remove My phone").click()
    page.fill("input[name=password]", "not-the-password")
    page.get_by_role("button", name="Remove it").click()
    assert "not right" in page.locator(".form-errors").inner_text()
    page.fill("input[name=password]", "correct-horse-battery")
    page.get_by_role("button", name="Remove it").click()
    page.wait_for_url("**/account/security/")
    assert "No second factor yet" in page.locator(".mfa-factors").inner_text()


@pytest.fixture
def virtual_authenticator(page):
    session = page.context.new_cdp_session(page)
    session.send("WebAuthn.enable")
    found = session.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    yield session, found["authenticatorId"]
    session.send(
        "WebAuthn.removeVirtualAuthenticator", {"authenticatorId": found["authenticatorId"]}
    )


def test_a_passkey_is_made_and_signs_in(page, live_server, bob, virtual_authenticator, screenshot):
    # WebAuthn needs a secure context: localhost is one, 127.0.0.1 names no domain.
    base = re.sub(r"//127\.0\.0\.1", "//localhost", live_server.url)
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", bob.email)
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.goto(f"{base}/account/security/passkey/")
    screenshot("add-passkey")
    page.fill("input[name=name]", "Work laptop")
    page.get_by_role("button", name="Create the passkey").click()
    page.wait_for_url("**/account/security/")
    assert "Work laptop" in page.locator(".mfa-factors").inner_text()
    session, authenticator = virtual_authenticator
    credentials = session.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1

    log_out(page)
    page.fill("input[name=username]", bob.email)
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/accounts/login/verify/")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(f"{base}/")
    assert page.locator("h1").inner_text() == "Northside Clinic"


def test_an_administrator_is_sent_to_add_a_factor(page, live_server, alice, settings):
    settings.PORTAL_MFA_REQUIRED_FOR_ADMINS = True
    log_in(page, live_server, alice.email)
    page.wait_for_url("**/account/security/")
    assert "must have a second factor" in page.locator(".mfa-required").inner_text()
    page.goto(f"{live_server.url}/qa/")
    page.wait_for_url("**/account/security/")
    add_app(page, live_server)
    page.goto(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Northside Clinic"
