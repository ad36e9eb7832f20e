"""A member connects their Clarius research account: the token is kept, encrypted; the
password never is."""

import pytest
from django.db import connection
from django.urls import reverse

from integrations.clarius.models import ResearchAccount

pytestmark = pytest.mark.django_db
URL = reverse("clarius-research")


def database_text():
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the database
            chunks.append(repr(cursor.fetchall()))
    return "\n".join(chunks)


def test_a_member_connects_with_good_credentials(client, bob, clarius_settings, clarius_sandbox):
    client.force_login(bob)
    response = client.post(
        URL,
        {"username": clarius_sandbox.research_username, "password": "research-pass"},
    )
    assert response.status_code == 302
    account = ResearchAccount.objects.get(user=bob)
    assert account.username == clarius_sandbox.research_username
    assert account.token == clarius_sandbox.research_token
    text = database_text()
    assert clarius_sandbox.research_token not in text
    assert "research-pass" not in text
    page = client.get(URL).content.decode()
    assert "Connected as" in page and clarius_sandbox.research_token not in page


def test_bad_credentials_are_invalid_credentials(client, bob, clarius_settings, clarius_sandbox):
    client.force_login(bob)
    response = client.post(URL, {"username": "researcher@example.com", "password": "wrong"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Invalid credentials" in body
    assert "wrong" not in body  # the password is not put back in the form
    assert not ResearchAccount.objects.exists()


def test_an_unreachable_clarius_is_said_so(client, bob, clarius_settings, clarius_sandbox):
    clarius_sandbox.inject("token-auth/", status=503)
    client.force_login(bob)
    response = client.post(URL, {"username": "researcher@example.com", "password": "x"})
    assert response.status_code == 400
    assert "could not be reached" in response.content.decode()


def test_disconnect_deletes_the_token(client, bob, clarius_settings, clarius_sandbox):
    client.force_login(bob)
    client.post(URL, {"username": "researcher@example.com", "password": "research-pass"})
    response = client.post(reverse("clarius-research-disconnect"))
    assert response.status_code == 302
    assert not ResearchAccount.objects.exists()
    assert client.get(reverse("clarius-research-disconnect")).status_code == 405


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
