"""Whatever a browser sends with its sessions (any User-Agent or X-Forwarded-For a server
passes on, any `next` after a timeout, any idle timeout typed by an administrator), the
answer is never a 5xx, what is stored is clean (no NUL, controls or bidi characters; an
address or nothing) and nothing is half-written."""

from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from portal.tenants.models import Institution
from portal.text import clean_text
from portal.usersessions.models import UserSession
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.hostile, pytest.mark.django_db]

characters = st.one_of(
    st.characters(),
    st.sampled_from("\x00\x1b\n\r\t\u202e\u2066\ufeff\ud800\udfff%:.,[]/"),
)
text = st.text(alphabet=characters, max_size=400)
# A header as a WSGI server hands it over: bytes read as Latin-1 (so UTF-8 arrives as
# mojibake), never NUL, CR or LF (gunicorn and nginx refuse those in a header).
header = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=400),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass").decode("latin-1")),
).map(lambda value: value.replace("\x00", "").replace("\r", "").replace("\n", ""))
# What a URL can carry: the test client cannot encode a lone surrogate into one.
url_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


@given(user_agent=header, forwarded=header)
def test_any_user_agent_and_forwarded_address_sign_in_and_are_stored_clean(
    bob, settings, user_agent, forwarded
):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    client = Client(HTTP_USER_AGENT=user_agent, HTTP_X_FORWARDED_FOR=forwarded)
    response = client.post(reverse("login"), {"username": bob.email, "password": PASSWORD})
    assert response.status_code == 302
    row = UserSession.objects.get(user=bob)
    assert row.user_agent == clean_text(row.user_agent) and len(row.user_agent) <= 300
    assert row.ip_address is None or ":" in row.ip_address or "." in row.ip_address
    assert client.get(reverse("session-list")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert not UserSession.objects.filter(user=bob).exists()


@given(next_url=url_text)
def test_any_next_after_a_timeout_is_a_redirect_on_this_site(bob, next_url):
    client = Client()
    client.force_login(bob)
    response = client.get(reverse("session-expired"), {"next": next_url})
    assert response.status_code == 302
    assert response.url.startswith("/") and not response.url.startswith("//")


@given(value=text)
def test_any_idle_timeout_typed_is_saved_in_bounds_or_refused(alice, northside, value):
    client = Client()
    client.force_login(alice)
    # As raw form bytes: a lone surrogate arrives as the invalid UTF-8 it would be.
    body = "idle_timeout_minutes=" + quote_from_bytes(value.encode("utf-8", "surrogatepass"))
    response = client.post(
        reverse("institution-settings"), body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (302, 400)
    minutes = Institution.objects.get(pk=northside.pk).idle_timeout_minutes
    assert 5 <= minutes <= 720
    if response.status_code == 400:
        assert 'class="error"' in response.content.decode()
