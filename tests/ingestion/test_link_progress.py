"""Linking in progress says so: the login after Connect says it is for linking Clarius,
and "Your Clarius links" follows a link waiting for confirmation (links.json)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from integrations.clarius.models import ClariusLink
from portal import work

TOKEN = "eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY"
HINT = "Sign in to link your Clarius account to the portal."


def test_the_login_after_connect_says_it_is_for_linking_clarius(client, bob):
    response = client.get(reverse("clarius-connect", args=[TOKEN]))
    login_url = client.get(response.url).url
    page = client.get(login_url).content.decode()
    assert HINT in page
    assert TOKEN not in page


def test_an_ordinary_login_has_no_hint_even_after_an_abandoned_connect(client, bob):
    client.get(reverse("clarius-connect", args=[TOKEN]))
    assert HINT not in client.get(reverse("login")).content.decode()
    assert HINT not in client.get(reverse("login") + "?next=/worklist/").content.decode()


def test_the_hint_is_dropped_once_logged_in(client, bob):
    from tests.conftest import PASSWORD

    client.get(reverse("clarius-connect", args=[TOKEN]))
    link = reverse("clarius-link")
    client.post(reverse("login") + f"?next={link}", {"username": bob.email, "password": PASSWORD})
    assert "portal_login_hint" not in client.session


def test_a_logged_in_member_is_not_given_a_hint(client, bob):
    client.force_login(bob)
    client.get(reverse("clarius-connect", args=[TOKEN]))
    assert "portal_login_hint" not in client.session


def test_the_links_page_polls_while_a_link_waits(client, bob, northside):
    ClariusLink.objects.create(
        token=TOKEN,
        user=bob,
        institution=northside,
        state="pending",
        next_attempt_at=timezone.now(),
    )
    client.force_login(bob)
    page = client.get(reverse("clarius-my-links")).content.decode()
    assert f'data-links-url="{reverse("clarius-my-links-json")}"' in page
    assert "js/clarius-links.js" in page
    assert "asking Clarius to confirm it" in page


def test_links_json_says_why_and_when_a_confirmation_is_retried(client, bob, northside):
    link = ClariusLink.objects.create(
        token=TOKEN,
        user=bob,
        institution=northside,
        state="pending",
        attempts=1,
        last_error="POST http://x/confirm: connection failed (ConnectionError)",
        next_attempt_at=timezone.now() + timedelta(seconds=40),
    )
    client.force_login(bob)
    data = client.get(reverse("clarius-my-links-json"), HTTP_X_PORTAL_BACKGROUND="1").json()
    assert data["waiting"] is True
    [row] = data["links"]
    assert (row["id"], row["state"], row["state_label"]) == (
        link.pk,
        "pending",
        "Waiting for confirmation",
    )
    assert row["help"] == (
        f"Clarius could not be reached; retrying in 40 seconds, attempt 2 of {work.MAX_ATTEMPTS}."
    )
    ClariusLink.objects.filter(pk=link.pk).update(state="confirmed", last_error="")
    data = client.get(reverse("clarius-my-links-json")).json()
    assert data["waiting"] is False
    assert (data["links"][0]["state_label"], data["links"][0]["help"]) == ("Confirmed", "")


def test_links_json_shows_only_ones_own_links(client, bob, charlie, northside, southside):
    ClariusLink.objects.create(token=TOKEN, user=charlie, institution=southside, state="pending")
    client.force_login(bob)
    assert client.get(reverse("clarius-my-links-json")).json() == {"waiting": False, "links": []}
    client.logout()
    assert client.get(reverse("clarius-my-links-json")).status_code == 302
