import pytest
from django.urls import reverse

from portal.usersessions import policy
from tests.conftest import PASSWORD

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def sign_in(client, email, *, ip="10.0.0.1", user_agent=FIREFOX_WINDOWS):
    """Sign in through the login form, as a browser would."""
    response = client.post(
        reverse("login"),
        {"username": email, "password": PASSWORD},
        REMOTE_ADDR=ip,
        HTTP_USER_AGENT=user_agent,
    )
    assert response.status_code == 302, response.content[:500]
    return client


def age_session(client, *, idle=0, started=0):
    """Travel in time: make the session's last activity and start that many seconds older."""
    session = client.session
    session[policy.ACTIVE] -= idle
    session[policy.STARTED] -= started
    session.save()


@pytest.fixture
def sign_in_as(client):
    def sign(email, **kwargs):
        return sign_in(client, email, **kwargs)

    return sign
