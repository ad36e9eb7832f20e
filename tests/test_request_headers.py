"""A header holding what PostgreSQL cannot store (NUL, a lone surrogate) is never a 500:
the characters are removed before anything reads the header."""

import pytest
from axes.models import AccessAttempt, AccessLog
from django.test import Client, RequestFactory
from django.urls import reverse

from portal.request_headers import StorableHeadersMiddleware, clean_headers
from portal.usersessions.models import UserSession
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def log_in(client=None, password=PASSWORD, **headers):
    return (client or Client()).post(
        reverse("login"), {"username": "bob@example.org", "password": password}, **headers
    )


def test_a_login_with_a_nul_in_the_user_agent_signs_in_normally(bob):
    client = Client()
    response = log_in(client, HTTP_USER_AGENT="a\x00b")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(bob.pk)
    assert UserSession.objects.get().user_agent == "ab"
    assert {row.user_agent for row in AccessLog.objects.all()} == {"ab"}


def test_a_failed_login_with_a_nul_in_the_user_agent_is_counted_not_a_500(bob):
    response = log_in(password="wrong", HTTP_USER_AGENT="Firefox\x00\ud800/128")
    assert response.status_code == 200
    assert "Please enter a correct" in response.text
    attempt = AccessAttempt.objects.get()
    assert (attempt.user_agent, attempt.failures_since_start) == ("Firefox/128", 1)


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ACCEPT": "text/html\x00"},  # django-axes stores it too
        {"HTTP_X_FORWARDED_FOR": "10.0.0.1\x00"},
        {"HTTP_USER_AGENT": "Firefox \ud800"},  # only a test client or odd server sends one
        {"HTTP_REFERER": "https://portal.example/\x00", "HTTP_ORIGIN": "\x00"},
    ],
)
def test_any_header_holding_an_unstorable_character_still_signs_in(bob, headers):
    assert log_in(**headers).status_code == 302
    assert UserSession.objects.count() == 1


def test_only_the_unstorable_characters_are_removed_and_only_from_headers():
    request = RequestFactory().post(
        "/x/",
        data=b"{}",
        content_type="application/json\x00",
        HTTP_USER_AGENT="\x1b[31m a\x00b \u202e \udfff",
        HTTP_X_PLAIN="untouched \x7f",
    )
    request.META["wsgi.not_a_header"] = "keeps \x00"
    request.headers  # noqa: B018 - made before the middleware runs, as a view might
    seen = {}

    def view(request):
        seen.update(request.headers, content_type=request.content_type)
        return None

    StorableHeadersMiddleware(view)(request)
    assert seen["User-Agent"] == "\x1b[31m ab \u202e "  # other controls: cleaned where shown
    assert seen["X-Plain"] == "untouched \x7f"
    assert seen["content_type"] == "application/json"
    assert request.META["wsgi.not_a_header"] == "keeps \x00"
    assert clean_headers({"HTTP_A": "fine", "REMOTE_ADDR": "\x00"}) == []


def test_a_session_cookie_with_a_nul_is_signed_out_not_a_database_error(client, bob):
    # As a server passes it on (the test client's own cookie jar would quote the NUL).
    response = client.get(reverse("home"), HTTP_COOKIE="sessionid=abcdefgh\x00ijkl")
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_an_api_call_naming_its_institution_with_a_nul_is_answered(bob):
    from tests.api.keyring import key_for

    response = Client().get(
        reverse("api-exam-list"),
        HTTP_AUTHORIZATION=f"Bearer {key_for(bob)}",
        HTTP_X_PORTAL_INSTITUTION="northside\x00",
    )
    assert response.status_code == 200


def test_other_control_characters_and_long_user_agents_are_stored_cut_and_cleaned(bob):
    client = Client()
    user_agent = "Mozilla/5.0 \x1b[31m Firefox/128.0 \x85" + "x" * 100_000
    assert log_in(client, HTTP_USER_AGENT=user_agent).status_code == 302
    session = UserSession.objects.get()
    assert len(session.user_agent) <= 300
    assert "\x1b" not in session.user_agent and "\x85" not in session.user_agent
    assert session.device == "Firefox"
    assert all(len(row.user_agent) <= 255 for row in AccessLog.objects.all())


def test_an_ordinary_login_is_unchanged(bob):
    assert log_in(HTTP_USER_AGENT=FIREFOX).status_code == 302
    assert UserSession.objects.get().device == "Firefox on Linux"
