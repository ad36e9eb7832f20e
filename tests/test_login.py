import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.conftest import PASSWORD


def login(client, email, password, ip="10.0.0.1"):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_it_shows_the_login_form(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html and 'type="email"' in html
    assert 'name="password"' in html
    assert "csrfmiddlewaretoken" in html


def test_it_logs_in_with_an_email_in_any_case(client, bob):
    response = login(client, "Bob@Example.ORG", PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(reverse("home")).context["user"] == bob


def test_it_refuses_a_wrong_password(client, bob):
    response = login(client, "bob@example.org", "wrong")
    assert response.status_code == 200
    assert "Please enter a correct email address and password" in response.content.decode()


def test_anonymous_visitors_are_sent_to_login(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=/")


def test_it_logs_out_with_a_post(client, bob):
    client.force_login(bob)
    assert client.get(reverse("logout")).status_code == 405  # a link cannot log anyone out
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_it_throttles_failed_logins_per_username_and_address(client, bob, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "bob@example.org", "wrong").status_code == 200
    locked = login(client, "bob@example.org", "wrong")
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    # The wait in words, not as ISO 8601 ("PT15M").
    assert "Try again in 15 minutes" in locked.content.decode()
    assert "PT15M" not in locked.content.decode()
    # Even the right password is refused from that address while the lockout lasts...
    assert login(client, "bob@example.org", PASSWORD).status_code == 429
    # ...but not from another address, nor for another account from the same one.
    assert login(client, "bob@example.org", PASSWORD, ip="10.0.0.2").status_code == 302


def test_changing_the_case_of_the_email_does_not_reset_the_count(client, bob, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        login(client, "bob@example.org".upper() if i % 2 else "bob@example.org", "wrong")
    assert login(client, "Bob@Example.org", PASSWORD).status_code == 429


def test_a_lockout_of_one_account_does_not_lock_another(client, alice, bob, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "bob@example.org", "wrong")
    assert login(client, "alice@example.org", PASSWORD).status_code == 302


def test_it_changes_the_password(client, bob):
    client.force_login(bob)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-passphrase",
            "new_password2": "a-brand-new-passphrase",
        },
    )
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.check_password("a-brand-new-passphrase")


def test_it_resets_a_forgotten_password_by_email(client, bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the worker sends it
        response = client.post(reverse("password_reset"), {"email": "Bob@Example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bob@example.org"]
    assert message.subject == "Reset your Clarius portal password"
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", message.body).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "reset-passphrase-42", "new_password2": "reset-passphrase-42"},
    )
    assert done.status_code == 302
    bob.refresh_from_db()
    assert bob.check_password("reset-passphrase-42")


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(
    client, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert mail.outbox == []


@pytest.mark.parametrize(
    "name",
    ["password_reset", "password_reset_done", "password_reset_complete", "login"],
)
def test_the_account_pages_use_the_portal_layout(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert "css/portal.css" in response.content.decode()


def test_behind_a_trusted_proxy_the_client_address_is_throttled_not_the_proxys(
    client, bob, settings
):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1

    def attempt(forwarded, password="wrong"):
        return client.post(
            reverse("login"),
            {"username": "bob@example.org", "password": password},
            REMOTE_ADDR="10.9.9.9",
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("spoofed, 198.51.100.7")
    assert attempt("198.51.100.7", PASSWORD).status_code == 429
    assert attempt("198.51.100.8", PASSWORD).status_code == 302
