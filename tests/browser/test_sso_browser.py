"""Single sign-on in a browser, against a real OpenID Connect provider (django-oauth-toolkit
in its own process, tests/oidc_provider/): sign-in through its form, the mapped
memberships, sign-out of both, a disabled account, a renewal after the sign-in's time, and
the institution setting that turns passwords off."""

import copy
import time

import pytest
import requests
from django.contrib.sessions.backends.db import SessionStore

from portal.exams.models import AuditEvent
from portal.sso import provider as sso_provider
from portal.sso.models import SsoIdentity
from portal.tenants.models import Institution, Membership
from tests.conftest import PASSWORD
from tests.oidc_provider import server

pytestmark = pytest.mark.django_db(transaction=True)

LABEL = "Test Identity"
PROVIDER_PASSWORD = "provider-password-1"


@pytest.fixture(scope="module")
def provider():
    running = server.start()
    yield running
    running.stop()


@pytest.fixture
def sso(provider, live_server, settings):
    provider.register_portal(live_server.url)
    for name, value in provider.settings(
        PORTAL_OIDC_INSTITUTION_CLAIM="institutions",
        PORTAL_OIDC_ROLE_CLAIM="roles",
        PORTAL_OIDC_LABEL=LABEL,
    ).items():
        setattr(settings, name, value)
    # As portal/settings.py adds the provider's origin when single sign-on is configured.
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["form-action"] = [*policy["DIRECTIVES"]["form-action"], provider.origin]
    settings.CONTENT_SECURITY_POLICY = policy
    sso_provider.forget()
    # The live server's first page (templates, middleware) can take seconds on a busy
    # machine: loaded here, outside the browser's timeouts.
    requests.get(f"{live_server.url}/accounts/login/", timeout=60)
    yield provider
    sso_provider.forget()


def sign_in_at_provider(page, live_server, username, next_path=""):
    page.goto(f"{live_server.url}/accounts/login/{next_path}")
    page.click(f"text=Sign in with {LABEL}")
    page.wait_for_selector("#id_password")  # the provider's own form
    page.fill("#id_username", username)
    page.fill("#id_password", PROVIDER_PASSWORD)
    page.click("text=Sign in at the provider")


def test_the_login_page_offers_the_provider(page, live_server, sso):
    # axe-core checks the page, with the button, at both sizes (tests/browser/conftest.py).
    page.goto(f"{live_server.url}/accounts/login/?next=/account/profile/")
    button = page.get_by_role("link", name=f"Sign in with {LABEL}")
    assert button.is_visible()
    assert "next=/account/profile/" in button.get_attribute("href")


def test_sign_in_through_the_provider_maps_institutions_and_roles(
    page, live_server, sso, northside, southside, screenshot
):
    sso.add_person(
        "dora",
        PROVIDER_PASSWORD,
        email="dora@example.org",
        email_verified=True,
        name="Dora Doctor",
        institutions=["northside", "southside", "nowhere"],
        roles={"northside": "reviewer", "southside": "admin", "nowhere": "admin"},
    )
    page.goto(f"{live_server.url}/accounts/login/")
    screenshot("sso-login")
    sign_in_at_provider(page, live_server, "dora")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() in ("Northside Clinic", "Southside Hospital")

    identity = SsoIdentity.objects.get(user__email="dora@example.org")
    assert identity.issuer == sso.issuer
    user = identity.user
    assert not user.is_superuser and not user.is_staff and not user.has_usable_password()
    assert user.full_name == "Dora Doctor"
    roles = dict(Membership.objects.filter(user=user).values_list("institution__slug", "role"))
    assert roles == {"northside": "reviewer", "southside": "admin"}
    logins = AuditEvent.objects.filter(user=user, action=AuditEvent.Action.LOGIN)
    assert {e.institution.slug for e in logins} == {"northside", "southside"}
    assert all(e.detail == {"method": "sso"} for e in logins)


def test_an_existing_account_is_linked_by_its_verified_address(page, live_server, sso, bob):
    sso.add_person(
        "bob",
        PROVIDER_PASSWORD,
        email="Bob@Example.org",
        email_verified=True,
        institutions=["northside"],
        roles="reviewer",
    )
    sign_in_at_provider(page, live_server, "bob")
    page.wait_for_url(f"{live_server.url}/")
    assert SsoIdentity.objects.get(user=bob).subject
    assert page.locator("h1").inner_text() == "Northside Clinic"


def test_logout_ends_the_portal_and_the_provider_sessions(page, live_server, sso, northside):
    sso.add_person(
        "erin",
        PROVIDER_PASSWORD,
        email="erin@example.org",
        email_verified=True,
        institutions=["northside"],
        roles="clinician",
    )
    sign_in_at_provider(page, live_server, "erin")
    page.wait_for_url(f"{live_server.url}/")
    page.click("text=Log out")
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    # The provider asks for the password again: its session ended too.
    page.click(f"text=Sign in with {LABEL}")
    page.wait_for_selector("#id_password")
    assert page.url.startswith(sso.origin)


def test_a_disabled_account_is_refused(page, live_server, sso, bob):
    bob.is_active = False
    bob.save()
    sso.add_person(
        "bob",
        PROVIDER_PASSWORD,
        email="bob@example.org",
        email_verified=True,
        institutions=["northside"],
        roles="reviewer",
    )
    sign_in_at_provider(page, live_server, "bob")
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    assert "This account is disabled" in page.locator(".messages").inner_text()
    assert not SsoIdentity.objects.filter(user=bob).exists()
    assert AuditEvent.objects.filter(
        user=bob, action=AuditEvent.Action.LOGIN_FAILED, detail__method="sso"
    ).exists()


def _expire_sign_in(page):
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=key)
    session["oidc_id_token_expiration"] = time.time() - 1
    session.save()


def test_an_expired_sign_in_is_renewed_at_the_provider(page, live_server, sso, northside):
    sso.add_person(
        "fay",
        PROVIDER_PASSWORD,
        email="fay@example.org",
        email_verified=True,
        institutions=["northside"],
        roles="clinician",
    )
    sign_in_at_provider(page, live_server, "fay")
    page.wait_for_url(f"{live_server.url}/")
    _expire_sign_in(page)
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/o/authorize/" in r.url else None)
    page.goto(f"{live_server.url}/account/profile/")
    # Sent to the provider (prompt=none), which still knows her: straight back.
    page.wait_for_url(f"{live_server.url}/account/profile/")
    assert any("prompt=none" in url for url in asked)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN).count() == 1

    # Once the provider's own session is over, she signs in there again.
    page.context.clear_cookies(domain="127.0.0.1", name="provider_sessionid")
    _expire_sign_in(page)
    page.goto(f"{live_server.url}/account/profile/")
    page.wait_for_selector("#id_password")
    assert page.url.startswith(sso.origin)
    page.fill("#id_username", "fay")
    page.fill("#id_password", PROVIDER_PASSWORD)
    page.click("text=Sign in at the provider")
    page.wait_for_url(f"{live_server.url}/account/profile/")


def test_password_sign_in_refused_where_the_institution_turned_it_off(
    page, live_server, sso, bob, charlie
):
    Institution.objects.filter(slug="northside").update(password_sign_in=False)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "bob@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    errors = page.locator(".form-errors").inner_text()
    assert "Northside Clinic signs its members in through" in errors
    assert f"Sign in with {LABEL}" in errors
    assert "/accounts/login/" in page.url
    # Southside still allows passwords.
    page.fill("input[name=username]", "charlie@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_the_settings_switch_is_for_the_current_institutions_admins(
    page, live_server, sso, alice, bob, charlie
):
    def log_in(email):
        page.context.clear_cookies()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

    # A reviewer has no settings page.
    log_in("bob@example.org")
    assert page.goto(f"{live_server.url}/institution/settings/").status == 404

    # Northside's administrator turns passwords off for Northside.
    log_in("alice@example.org")
    page.goto(f"{live_server.url}/institution/settings/")
    assert "Northside Clinic" in page.locator("h1").inner_text()
    page.get_by_label("Members may sign in with a password").uncheck()
    page.click("button:has-text('Save')")
    assert not Institution.objects.get(slug="northside").password_sign_in

    # Southside's administrator sees and changes only Southside's.
    Institution.objects.filter(slug="northside").update(password_sign_in=True)
    log_in("charlie@example.org")
    page.goto(f"{live_server.url}/institution/settings/")
    assert "Southside Hospital" in page.locator("h1").inner_text()
    page.get_by_label("Members may sign in with a password").uncheck()
    page.click("button:has-text('Save')")
    assert not Institution.objects.get(slug="southside").password_sign_in
    assert Institution.objects.get(slug="northside").password_sign_in
    switched = page.request.post(
        f"{live_server.url}/institutions/switch/",
        form={"institution": "northside"},
        headers={"X-CSRFToken": _csrf(page), "Referer": live_server.url + "/"},
    )
    assert switched.status == 404


def _csrf(page):
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
