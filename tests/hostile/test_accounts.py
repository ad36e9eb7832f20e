"""Whatever is typed into the login and password reset forms (controls, NUL, lone
surrogates, invalid UTF-8, look-alike spellings, very long values), the answer is a
form again (200/4xx) or a redirect, never a 5xx; nothing is half-written, and no login
succeeds with anything but the account's address and password."""

from urllib.parse import quote_from_bytes

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from portal.accounts.addresses import normalise_email
from portal.accounts.models import PasswordResetRequest
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.hostile

RITA = "rita@alpha.example"
characters = st.one_of(
    st.characters(),
    st.sampled_from("\x00\x1b\n\r\t\u202e\u2066\ufeff\ud800\udfff\u0131\u0130\u212a\uff52ß@.%&="),
)
text = st.text(alphabet=characters, max_size=300)
long_text = st.builds(
    lambda part, times: part * times,
    st.text(alphabet=characters, min_size=1, max_size=4),
    st.integers(min_value=100, max_value=5000),
)
spellings = st.sampled_from(
    [
        RITA,
        "RITA@alpha.example",
        "ｒｉｔａ@alpha.example",
        "rıta@alpha.example",
        "RİTA@alpha.example",
    ]
)
emails = st.one_of(spellings, st.emails(), text, long_text)
passwords = st.one_of(st.just(PASSWORD), text, long_text)
# A value as a hostile client sends it: any text (lone surrogates as the bytes a broken
# encoder would write) or bytes that are not UTF-8 at all.
raw = st.one_of(
    st.builds(lambda v: v.encode("utf-8", "surrogatepass"), st.one_of(emails, passwords)),
    st.binary(max_size=300),
)


def form_body(**fields: bytes) -> bytes:
    return "&".join(f"{name}={quote_from_bytes(value)}" for name, value in fields.items()).encode()


def post(client, url, body, ip, forwarded=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client.post(
        url, body, content_type="application/x-www-form-urlencoded", REMOTE_ADDR=ip, **extra
    )


@pytest.fixture
def rita(db):
    return make_user(RITA)


@pytest.fixture
def behind_a_proxy(settings):
    """Set once per test, not per example: each assignment stacks another override."""
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    settings.PORTAL_PASSWORD_RESET_PER_CLIENT = 1000


ips = st.sampled_from(["10.0.0.1", "10.0.0.2", "2001:db8::1"])
# What a proxy chain may forward, with the portal told to trust one proxy.
forwarded = st.one_of(
    st.none(),
    st.sampled_from(["198.51.100.7", "spoofed, 203.0.113.9", "fe80::1%eth0", "1.2.3.4:80", ""]),
    st.text(alphabet=st.characters(codec="latin-1"), max_size=60),
)


@pytest.mark.parametrize("url", ["login", "admin:login"])
@given(
    username=st.one_of(emails.map(lambda v: v.encode("utf-8", "surrogatepass")), raw),
    password=st.one_of(passwords.map(lambda v: v.encode("utf-8", "surrogatepass")), raw),
    other=raw,
    ip=ips,
    forwarded=forwarded,
)
def test_the_login_forms_never_fail_whatever_is_typed(
    client, rita, behind_a_proxy, url, username, password, other, ip, forwarded
):
    users = get_user_model().objects.count()
    body = form_body(username=username, password=password, next=other)
    response = post(client, reverse(url), body, ip, forwarded)
    assert response.status_code in (200, 302, 400, 403, 429)
    if response.status_code == 302:
        # Only the account's own address (in a spelling that normalises to it) gets in.
        assert password == PASSWORD.encode()
        assert normalise_email(username.decode("utf-8", "replace")) == RITA
        client.post(reverse("logout"))
    assert get_user_model().objects.count() == users
    assert all(len(a.username) <= 254 for a in AccessAttempt.objects.all())


@given(
    email=st.one_of(emails.map(lambda v: v.encode("utf-8", "surrogatepass")), raw),
    ip=ips,
    forwarded=forwarded,
)
def test_the_reset_form_never_fails_whatever_is_typed(
    client, rita, behind_a_proxy, django_capture_on_commit_callbacks, email, ip, forwarded
):
    mail.outbox.clear()
    before = PasswordResetRequest.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, reverse("password_reset"), form_body(email=email), ip, forwarded)
    assert response.status_code in (200, 302, 400)
    added = PasswordResetRequest.objects.count() - before
    assert added == (1 if response.status_code == 302 else 0)
    if added:
        row = PasswordResetRequest.objects.order_by("-pk").first()
        assert row.state != PasswordResetRequest.State.QUEUED  # the worker has finished
        assert [m.to for m in mail.outbox] in ([], [[RITA]])
        assert (row.state == PasswordResetRequest.State.SENT) == bool(mail.outbox)
    else:
        assert mail.outbox == []
