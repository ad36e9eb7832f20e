"""Your sessions: listed with device and address, ended one by one or all at once."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from portal.accounts.throttle import client_ip
from portal.usersessions import policy
from portal.usersessions.models import UserSession
from tests.usersessions.conftest import SAFARI_IPHONE, age_session, sign_in

pytestmark = pytest.mark.django_db


def second_device(email, **kwargs):
    return sign_in(Client(), email, ip="198.51.100.7", user_agent=SAFARI_IPHONE, **kwargs)


def test_it_records_a_session_at_sign_in_keyed_by_a_hash_of_the_key(client, bob):
    sign_in(client, bob.email)
    row = UserSession.objects.get(user=bob)
    key = client.session.session_key
    assert row.key_hash == policy.key_hash(key) and key not in row.key_hash
    assert row.ip_address == "10.0.0.1"
    assert row.device == "Firefox on Windows"


def test_it_lists_the_sessions_with_device_address_and_marks_this_one(client, bob):
    sign_in(client, bob.email)
    second_device(bob.email)
    response = client.get(reverse("session-list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Firefox on Windows" in html and "10.0.0.1" in html
    assert "Safari on iOS" in html and "198.51.100.7" in html
    assert html.count('class="this-session"') == 1
    current = [
        s
        for s in response.context["sessions"]
        if s.key_hash == policy.key_hash(client.session.session_key)
    ]
    assert len(current) == 1 and current[0].device == "Firefox on Windows"


def test_the_address_is_the_client_behind_the_trusted_proxy(client, bob, settings):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    client.post(
        reverse("login"),
        {"username": bob.email, "password": "correct-horse-battery"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    assert UserSession.objects.get(user=bob).ip_address == "203.0.113.9"


def test_an_address_that_is_not_one_is_kept_as_unknown(rf, settings):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    request = rf.get("/", HTTP_X_FORWARDED_FOR="<script>", REMOTE_ADDR="<script>")
    assert client_ip(request) is None
    assert client_ip(rf.get("/", HTTP_X_FORWARDED_FOR="2001:db8::1")) == "2001:db8::1"


def test_the_list_shows_only_sessions_that_can_still_be_used(client, bob):
    other = second_device(bob.email)
    age_session(other, idle=31 * 60)  # that phone was left idle
    UserSession.objects.filter(user=bob).update(last_active_at=policy_time(-33 * 60))
    sign_in(client, bob.email)
    response = client.get(reverse("session-list"))
    assert [s.device for s in response.context["sessions"]] == ["Firefox on Windows"]
    assert UserSession.objects.filter(user=bob).count() == 1


def policy_time(offset):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(seconds=offset)


def test_ending_another_session_signs_it_out_of_the_session_store(client, bob):
    sign_in(client, bob.email)
    phone = second_device(bob.email)
    phone_key = phone.session.session_key
    row = UserSession.objects.get(key_hash=policy.key_hash(phone_key))

    response = client.post(reverse("session-end", args=[row.pk]))
    assert response.status_code == 302
    assert not Session.objects.filter(session_key=phone_key).exists()
    assert not UserSession.objects.filter(pk=row.pk).exists()
    response = phone.get(reverse("home"))
    assert response.status_code == 302 and reverse("login") in response.url
    assert client.get(reverse("home")).status_code == 200


def test_ending_this_session_signs_out_here(client, bob):
    sign_in(client, bob.email)
    row = UserSession.objects.get(user=bob)
    response = client.post(reverse("session-end", args=[row.pk]))
    assert response.url == reverse("login")
    assert client.get(reverse("home")).status_code == 302
    assert not UserSession.objects.filter(user=bob).exists()


def test_someone_elses_session_is_a_404(client, alice, bob):
    sign_in(client, bob.email)
    alices = second_device(alice.email)
    row = UserSession.objects.get(user=alice)
    assert client.post(reverse("session-end", args=[row.pk])).status_code == 404
    assert alices.get(reverse("home")).status_code == 200


def test_sign_out_all_other_sessions_keeps_this_one(client, bob, alice):
    sign_in(client, bob.email)
    phones = [second_device(bob.email) for _ in range(2)]
    alices = second_device(alice.email)
    response = client.post(reverse("session-sign-out-others"))
    assert response.status_code == 302
    for phone in phones:
        assert phone.get(reverse("home")).status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert alices.get(reverse("home")).status_code == 200
    assert UserSession.objects.filter(user=bob).count() == 1


def test_sign_out_everywhere_includes_this_session(client, bob):
    sign_in(client, bob.email)
    phone = second_device(bob.email)
    response = client.post(reverse("session-sign-out-everywhere"))
    assert response.url == reverse("login")
    assert "signed out everywhere" in client.get(response.url).content.decode()
    assert client.get(reverse("home")).status_code == 302
    assert phone.get(reverse("home")).status_code == 302
    assert not UserSession.objects.filter(user=bob).exists()
    assert not Session.objects.exists()


def test_logging_out_deletes_the_sessions_record(client, bob):
    sign_in(client, bob.email)
    client.post(reverse("logout"))
    assert not UserSession.objects.exists()


def test_a_password_change_keeps_this_session_listed(client, bob):
    sign_in(client, bob.email)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "correct-horse-battery",
            "new_password1": "another-long-passphrase-9",
            "new_password2": "another-long-passphrase-9",
        },
    )
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    row = UserSession.objects.get(user=bob)
    assert row.key_hash == policy.key_hash(client.session.session_key)
    # Signing the other sessions out at once does not take this one with them.
    client.post(reverse("session-sign-out-others"))
    assert client.get(reverse("home")).status_code == 200


def test_a_session_ended_elsewhere_is_refused_even_if_the_store_kept_it(client, bob):
    # A session store that could not be searched (a cache): the row is the authority.
    sign_in(client, bob.email)
    UserSession.objects.filter(user=bob).delete()
    age_session(client, idle=61)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and reverse("login") in response.url


@pytest.mark.parametrize(
    "view",
    ["session-sign-out-others", "session-sign-out-everywhere", "session-keep-alive"],
)
def test_the_session_actions_need_the_csrf_token(bob, view):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.post(reverse(view)).status_code == 403
    assert client.get(reverse("home")).status_code == 200


def test_ending_one_session_needs_the_csrf_token(bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    row = UserSession.objects.get(user=bob)
    assert client.post(reverse("session-end", args=[row.pk])).status_code == 403
    assert UserSession.objects.filter(pk=row.pk).exists()


def test_the_session_actions_are_post_only(client, bob):
    sign_in(client, bob.email)
    row = UserSession.objects.get(user=bob)
    assert client.get(reverse("session-end", args=[row.pk])).status_code == 405
    assert client.get(reverse("session-sign-out-everywhere")).status_code == 405
    assert client.get(reverse("home")).status_code == 200


def test_the_user_menu_links_to_the_sessions(client, bob):
    sign_in(client, bob.email)
    assert reverse("session-list") in client.get(reverse("home")).content.decode()
