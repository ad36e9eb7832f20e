import pytest
from django.urls import reverse

from tests.usersessions.conftest import age_session, sign_in

pytestmark = pytest.mark.django_db


def test_a_session_ends_after_the_maximum_lifetime_whatever_the_activity(client, bob):
    sign_in(client, bob.email)
    age_session(client, started=11 * 3600 + 59 * 60)
    assert client.get(reverse("home")).status_code == 200
    age_session(client, started=2 * 60)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "a session lasts at most 12 hours" in page


def test_the_maximum_lifetime_is_a_setting(client, bob, settings):
    settings.PORTAL_SESSION_MAX_HOURS = 2
    sign_in(client, bob.email)
    age_session(client, started=2 * 3600)
    assert client.get(reverse("worklist")).status_code == 302


def test_the_warning_says_when_the_lifetime_comes_first(client, bob):
    sign_in(client, bob.email)
    age_session(client, started=12 * 3600 - 100)
    data = client.get(reverse("session-status")).json()
    assert data["limit"] == "absolute" and 95 <= data["seconds_left"] <= 100
    # Staying signed in does not push the maximum lifetime back.
    data = client.post(reverse("session-keep-alive")).json()
    assert data["limit"] == "absolute" and data["seconds_left"] <= 100


def test_the_setting_comes_from_the_environment(monkeypatch):
    from portal.env import env_int

    monkeypatch.setenv("PORTAL_SESSION_MAX_HOURS", "8")
    assert env_int("PORTAL_SESSION_MAX_HOURS", 12, minimum=1) == 8
