import pytest
from django.urls import reverse

from integrations.clarius.models import ClariusLink
from portal.tenants.models import Membership

TOKEN = "eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY"


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: calls.append(a))
    return calls


def connect(client, token=TOKEN):
    return client.get(reverse("clarius-connect", args=[token]))


def test_an_anonymous_visitor_is_asked_to_log_in_without_the_token_in_the_url(client, db):
    response = connect(client)
    assert response.status_code == 302
    follow = client.get(response.url)
    assert follow.status_code == 302
    assert follow.url.startswith(reverse("login"))
    assert TOKEN not in follow.url
    assert client.session["clarius_connect_token"] == TOKEN


def test_a_get_alone_never_links(client, bob):
    client.force_login(bob)
    connect(client)
    page = client.get(reverse("clarius-link"))
    assert page.status_code == 200
    assert "Link your Clarius account to Northside Clinic" in page.content.decode()
    assert TOKEN not in page.content.decode()  # shown masked only
    assert not ClariusLink.objects.exists()


def test_the_post_links_and_confirmation_is_queued_after_commit(
    client, bob, northside, queued, django_capture_on_commit_callbacks
):
    client.force_login(bob)
    connect(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("clarius-link"), {"institution": "northside"})
    assert response.status_code == 302
    link = ClariusLink.objects.get()
    assert (link.user, link.institution, link.state) == (bob, northside, "pending")
    assert link.next_attempt_at is not None
    assert queued == [("integrations.clarius.tasks.confirm_link", link.pk)]
    assert "clarius_connect_token" not in client.session


def test_the_link_form_is_csrf_protected(bob):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    connect(client)
    assert client.post(reverse("clarius-link")).status_code == 403
    assert not ClariusLink.objects.exists()


def test_a_member_of_several_institutions_picks_one(client, alice, southside, queued):
    client.force_login(alice)
    connect(client)
    page = client.get(reverse("clarius-link")).content.decode()
    assert "Northside Clinic" in page and "Southside Hospital" in page
    client.post(reverse("clarius-link"), {"institution": "southside"})
    assert ClariusLink.objects.get().institution == southside


def test_picking_an_institution_one_is_not_a_member_of_is_a_404(client, bob, southside, queued):
    client.force_login(bob)
    connect(client)
    assert client.post(reverse("clarius-link"), {"institution": "southside"}).status_code == 404
    assert not ClariusLink.objects.exists()


def test_a_token_linked_to_another_user_is_refused_and_nothing_changes(
    client, bob, charlie, northside, queued
):
    ClariusLink.objects.create(token=TOKEN, user=bob, institution=northside, state="confirmed")
    client.force_login(charlie)
    connect(client)
    response = client.post(reverse("clarius-link"), {"institution": "southside"})
    assert response.status_code == 409
    assert "already linked to another portal user" in response.content.decode()
    link = ClariusLink.objects.get()
    assert (link.user, link.state) == (bob, "confirmed")


def test_linking_the_same_token_again_is_a_no_op(client, bob, northside, queued):
    ClariusLink.objects.create(token=TOKEN, user=bob, institution=northside, state="confirmed")
    client.force_login(bob)
    connect(client)
    response = client.post(reverse("clarius-link"), {"institution": "northside"}, follow=True)
    assert "already linked; nothing changed" in response.content.decode()
    assert ClariusLink.objects.get().state == "confirmed"
    assert queued == []


def test_an_unlinked_token_can_be_linked_again(client, bob, northside, queued):
    ClariusLink.objects.create(token=TOKEN, user=bob, institution=northside, state="revoked")
    client.force_login(bob)
    connect(client)
    client.post(reverse("clarius-link"), {"institution": "northside"})
    assert ClariusLink.objects.get().state == "pending"


def test_a_malformed_token_is_a_clear_400(client, db):
    response = client.get("/clarius/connect/%3Cscript%3E/")
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_without_a_token_the_link_page_explains_where_to_start(client, bob):
    client.force_login(bob)
    assert "start from Clarius Cloud" in client.get(reverse("clarius-link")).content.decode()


def test_users_see_and_unlink_their_own_links(client, bob, northside):
    link = ClariusLink.objects.create(
        token=TOKEN, user=bob, institution=northside, state="confirmed"
    )
    client.force_login(bob)
    page = client.get(reverse("clarius-my-links")).content.decode()
    assert link.masked_token in page and TOKEN not in page
    client.post(reverse("clarius-unlink", args=[link.pk]))
    link.refresh_from_db()
    assert link.state == "revoked"


def test_nobody_unlinks_someone_elses_link_from_their_own_page(client, bob, charlie, northside):
    link = ClariusLink.objects.create(
        token=TOKEN, user=bob, institution=northside, state="confirmed"
    )
    client.force_login(charlie)
    assert client.post(reverse("clarius-unlink", args=[link.pk])).status_code == 404
    link.refresh_from_db()
    assert link.state == "confirmed"


@pytest.mark.parametrize(("viewer", "status"), [("alice", 302), ("bob", 404), ("charlie", 404)])
def test_only_the_institutions_admins_unlink_its_members(client, trio, northside, viewer, status):
    users = dict(zip(["alice", "bob", "charlie"], trio, strict=True))
    link = ClariusLink.objects.create(
        token=TOKEN, user=users["bob"], institution=northside, state="confirmed"
    )
    client.force_login(users[viewer])
    response = client.post(reverse("clarius-institution-unlink", args=[link.pk]))
    assert response.status_code == status
    link.refresh_from_db()
    assert link.state == ("revoked" if status == 302 else "confirmed")


def test_an_admin_of_another_institution_sees_none_of_its_links(client, trio, northside):
    alice, bob, charlie = trio
    ClariusLink.objects.create(token=TOKEN, user=bob, institution=northside, state="confirmed")
    client.force_login(charlie)
    assert Membership.objects.get(user=charlie).role == "admin"
    page = client.get(reverse("clarius-institution-links"))
    assert list(page.context["links"]) == []
