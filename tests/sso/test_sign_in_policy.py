"""Single sign-on switched off and on: the login page, the password policy of an
institution, the settings switch, the provider's sign-out address, and the settings
read from the environment."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.sso import conf
from portal.sso.views import provider_logout_url
from portal.tenants.forms import InstitutionSettingsForm
from portal.tenants.models import Institution
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def sso_on(settings):
    settings.PORTAL_SSO_ENABLED = True
    settings.PORTAL_OIDC_LABEL = "Hospital ID"
    settings.PORTAL_OIDC_ISSUER = ""
    settings.PORTAL_OIDC_ENDPOINTS = {
        "authorization_endpoint": "https://id.example.org/authorize",
        "token_endpoint": "https://id.example.org/token",
        "userinfo_endpoint": "https://id.example.org/userinfo",
        "jwks_uri": "https://id.example.org/jwks",
        "end_session_endpoint": "https://id.example.org/logout",
    }
    settings.OIDC_RP_CLIENT_ID = "portal"


def login(client, email, password=PASSWORD, ip="10.0.0.1"):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_without_single_sign_on_nothing_changes(client, bob):
    Institution.objects.filter(slug="northside").update(password_sign_in=False)
    html = client.get(reverse("login")).content.decode()
    assert "Sign in with" not in html
    assert client.get("/accounts/sso/start/").status_code == 404
    assert client.get("/accounts/sso/callback/?code=x&state=y").status_code == 404
    # The switch is not offered, and a setting left off locks nobody out.
    assert (
        "password_sign_in"
        not in InstitutionSettingsForm(instance=Institution.objects.first()).fields
    )
    assert login(client, "bob@example.org").status_code == 302


def test_the_login_page_offers_the_provider(client, db, sso_on):
    html = client.get(reverse("login") + "?next=/account/profile/").content.decode()
    assert "Sign in with Hospital ID" in html
    assert "/accounts/sso/start/?next=/account/profile/" in html
    start = client.get("/accounts/sso/start/?next=/account/profile/")
    assert start.status_code == 302
    assert start["Location"].startswith("https://id.example.org/authorize?")
    assert "code_challenge=" in start["Location"] and "nonce=" in start["Location"]


def test_password_sign_in_refused_where_turned_off_and_counted(
    client, bob, charlie, sso_on, settings
):
    Institution.objects.filter(slug="northside").update(password_sign_in=False)
    refused = login(client, "bob@example.org")
    assert refused.status_code == 200
    html = refused.content.decode()
    assert "Northside Clinic signs its members in through Hospital ID" in html
    assert AuditEvent.objects.filter(user=bob, action=AuditEvent.Action.LOGIN_FAILED).exists()
    # A wrong password says nothing about the institution.
    assert "signs its members" not in login(client, "bob@example.org", "wrong").content.decode()
    # The lockout still counts every refusal.
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "bob@example.org")
    assert login(client, "bob@example.org").status_code == 429
    # Southside still signs in with passwords.
    assert login(client, "charlie@example.org", ip="10.0.0.9").status_code == 302


def test_superusers_keep_their_password(client, bob, sso_on):
    from portal.tenants.models import Membership

    Institution.objects.filter(slug="northside").update(password_sign_in=False)
    bob.is_superuser = True
    bob.save()
    assert Membership.objects.filter(user=bob).exists()
    assert login(client, "bob@example.org").status_code == 302


def test_the_settings_switch_with_single_sign_on(client, alice, bob, charlie, sso_on):
    client.force_login(alice)
    page = client.get(reverse("institution-settings")).content.decode()
    assert 'name="password_sign_in"' in page
    client.force_login(bob)
    assert client.get(reverse("institution-settings")).status_code == 404
    assert client.post(reverse("institution-settings"), {}).status_code == 404
    client.force_login(charlie)
    # Charlie's settings page is Southside's; Northside is not his to choose.
    assert (
        client.post(reverse("switch-institution"), {"institution": "northside"}).status_code == 404
    )
    assert "Southside Hospital" in client.get(reverse("institution-settings")).content.decode()


def test_a_password_sign_in_with_a_code_in_its_address_never_reaches_the_provider(
    client, bob, sso_on
):
    response = client.post(
        reverse("login") + "?code=abc&state=def",
        {"username": "bob@example.org", "password": "wrong"},
    )
    assert response.status_code == 200


def test_sign_out_goes_to_the_provider_with_the_token(rf, db, sso_on):
    from django.contrib.sessions.backends.db import SessionStore

    request = rf.get("/")
    request.session = SessionStore()
    request.session["oidc_id_token"] = "header.payload.signature"
    url = provider_logout_url(request)
    assert url.startswith("https://id.example.org/logout?")
    assert "id_token_hint=header.payload.signature" in url
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Faccounts%2Flogin%2F" in url


def test_a_password_session_signs_out_as_before(client, bob, sso_on):
    client.force_login(bob)
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")


def _settings(monkeypatch, **env):
    for name in [
        "PORTAL_OIDC_ISSUER",
        "PORTAL_OIDC_CLIENT_ID",
        "PORTAL_OIDC_CLIENT_SECRET",
        "PORTAL_OIDC_SCOPES",
        "PORTAL_OIDC_LABEL",
        "PORTAL_OIDC_ALLOW_HTTP",
        "PORTAL_OIDC_INSTITUTION_CLAIM",
        "PORTAL_OIDC_ROLE_CLAIM",
        *conf.ENDPOINTS.values(),
    ]:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return conf.settings_from_environment(debug=False)


def test_environment_off_by_default(monkeypatch):
    values = _settings(monkeypatch)
    assert values["PORTAL_SSO_ENABLED"] is False
    assert values["PORTAL_OIDC_ORIGINS"] == []


def test_environment_on_with_issuer_and_client(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    values = _settings(
        monkeypatch,
        PORTAL_OIDC_ISSUER="https://id.example.org/realms/x/",
        PORTAL_OIDC_CLIENT_ID="portal",
        PORTAL_OIDC_CLIENT_SECRET_FILE=str(secret),
        PORTAL_OIDC_LABEL="  Hospital   ID ",
        PORTAL_OIDC_INSTITUTION_CLAIM="portal_institutions",
    )
    assert values["PORTAL_SSO_ENABLED"] is True
    assert values["PORTAL_OIDC_ISSUER"] == "https://id.example.org/realms/x"
    assert values["OIDC_RP_CLIENT_SECRET"] == "s3cret"
    assert values["OIDC_RP_SIGN_ALGO"] == "RS256"
    assert values["PORTAL_OIDC_LABEL"] == "Hospital ID"
    assert values["PORTAL_OIDC_ORIGINS"] == ["https://id.example.org"]


@pytest.mark.parametrize(
    "env",
    [
        {"PORTAL_OIDC_ISSUER": "http://id.example.org", "PORTAL_OIDC_CLIENT_ID": "p"},
        {"PORTAL_OIDC_ISSUER": "ftp://id.example.org", "PORTAL_OIDC_CLIENT_ID": "p"},
        {"PORTAL_OIDC_AUTHORIZATION_ENDPOINT": "https://id/a", "PORTAL_OIDC_CLIENT_ID": "p"},
        {"PORTAL_OIDC_SCOPES": "email profile"},
        {"PORTAL_OIDC_ROLE_CLAIM": "x" * 200},
    ],
)
def test_environment_mistakes_stop_the_start(monkeypatch, env):
    with pytest.raises(ImproperlyConfigured):
        _settings(monkeypatch, **env)
