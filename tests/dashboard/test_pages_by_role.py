"""Who reaches which staff page, and what the navigation offers them."""

import pytest
from django.urls import reverse

from tests.dashboard.conftest import in_southside

ADMIN_PAGES = [
    "member-list",
    "audit-log",
    "audit-log-csv",
    "clarius-institution-links",
    "destination-list",
]
EVERYONE = ["home", "worklist", "clarius-my-links"]

# (who, page) -> status. alice is Northside's admin, and a clinician in Southside.
ROLES = {
    "alice": "admin",
    "alice-in-southside": "clinician",
    "bob": "reviewer",
    "charlie": "admin",
}


def log_in(client, trio, who):
    alice, bob, charlie = trio
    client.force_login({"alice": alice, "alice-in-southside": alice, "bob": bob}.get(who, charlie))
    if who == "alice-in-southside":
        in_southside(client)


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("page", EVERYONE + ADMIN_PAGES)
def test_pages_by_role(client, trio, who, page):
    log_in(client, trio, who)
    expected = 404 if page in ADMIN_PAGES and ROLES[who] != "admin" else 200
    assert client.get(reverse(page)).status_code == expected


@pytest.mark.parametrize("who", ROLES)
def test_the_navigation_offers_what_the_role_may_open(client, trio, who):
    log_in(client, trio, who)
    nav = client.get(reverse("home")).content.decode().split('<nav class="main-nav"')[1]
    nav = nav.split("</nav>")[0]
    for name in ["home", "worklist", "clarius-my-links"]:
        assert f'href="{reverse(name)}"' in nav
    for name in ["member-list", "clarius-institution-links", "audit-log", "destination-list"]:
        assert (f'href="{reverse(name)}"' in nav) == (ROLES[who] == "admin"), name
    assert 'href="/admin/"' not in nav
    assert 'aria-current="page">Dashboard' in nav


def test_superusers_get_a_link_to_django_admin(client, trio):
    alice = trio[0]
    alice.is_superuser = alice.is_staff = True
    alice.save()
    client.force_login(alice)
    assert 'href="/admin/"' in client.get(reverse("worklist")).content.decode()


def test_staff_pages_need_a_login(client, db):
    for name in EVERYONE + ADMIN_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert "/accounts/login/" in response.url
