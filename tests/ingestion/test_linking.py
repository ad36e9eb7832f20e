from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.clarius.ingestion.linking import SESSION_CONNECT_TOKEN
from integrations.clarius.models import ClariusLink, NotificationReceipt
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
    assert client.session["clarius_connect_token"]["token"] == TOKEN


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


# --- A token planted by another site ---------------------------------------------------


def kept_for(client, minutes):
    """Time travel: make the kept token ``minutes`` old."""
    session = client.session
    kept = session[SESSION_CONNECT_TOKEN]
    kept["at"] = (timezone.now() - timedelta(minutes=minutes)).isoformat()
    session[SESSION_CONNECT_TOKEN] = kept
    session.save()


def test_a_token_kept_for_more_than_ten_minutes_is_dropped_and_the_page_says_connect_again(
    client, bob, queued
):
    client.force_login(bob)
    connect(client)
    kept_for(client, 11)
    response = client.get(reverse("clarius-link"))
    assert response.status_code == 410
    assert "Press Connect in Clarius again" in response.content.decode()
    assert SESSION_CONNECT_TOKEN not in client.session
    # Dropped: the next visit has nothing to link.
    assert "Nothing to link" in client.get(reverse("clarius-link")).content.decode()
    assert not ClariusLink.objects.exists()


def test_an_expired_token_is_not_linked_by_the_post_either(client, bob, queued):
    client.force_login(bob)
    connect(client)
    kept_for(client, 10)
    response = client.post(reverse("clarius-link"), {"institution": "northside"})
    assert response.status_code == 410
    assert not ClariusLink.objects.exists()
    assert queued == []


def test_a_token_nine_minutes_old_can_still_be_linked(client, bob, northside, queued):
    client.force_login(bob)
    connect(client)
    kept_for(client, 9)
    assert client.post(reverse("clarius-link"), {"institution": "northside"}).status_code == 302
    assert ClariusLink.objects.get().user == bob


def test_a_token_kept_without_its_time_counts_as_expired(client, bob):
    client.force_login(bob)
    session = client.session
    session[SESSION_CONNECT_TOKEN] = TOKEN  # as kept before tokens had a time
    session.save()
    assert client.get(reverse("clarius-link")).status_code == 410
    assert SESSION_CONNECT_TOKEN not in client.session


def test_the_link_page_warns_and_names_the_account_masked(client, bob):
    client.force_login(bob)
    connect(client)
    html = client.get(reverse("clarius-link")).content.decode()
    assert "Only continue if you just pressed Connect in Clarius" in html
    assert "\u2022" * 6 + TOKEN[-4:] in html
    assert TOKEN[:-4] not in html
    assert "the portal has never seen this account" in html


def test_the_link_page_says_what_the_portal_knows_of_the_token(client, bob, charlie, northside):
    NotificationReceipt.objects.create(
        customer_id=TOKEN, state="unassigned", submitted_at=timezone.now() - timedelta(days=1)
    )
    NotificationReceipt.objects.create(customer_id=TOKEN, state="unassigned")
    NotificationReceipt.objects.create(customer_id="another-token-1234", state="unassigned")
    link = ClariusLink.objects.create(token=TOKEN, user=bob, institution=northside, state="revoked")
    client.force_login(bob)
    connect(client)
    html = client.get(reverse("clarius-link")).content.decode()
    assert "You linked it to Northside Clinic" in html and "unlinked" in html.lower()
    assert "2 exams uploaded with it are waiting" in html
    # Another user sees that it is someone else's, never whose.
    link.state = "confirmed"
    link.save()
    client.force_login(charlie)
    connect(client)
    html = client.get(reverse("clarius-link")).content.decode()
    assert "linked to another portal user" in html
    assert "bob" not in html.lower() and "Northside" not in html


def test_a_cross_site_get_alone_plants_nothing_that_outlives_ten_minutes(client, bob, queued):
    # Another site makes bob's logged-in browser open the transfer URL with its token.
    client.force_login(bob)
    response = client.get(
        reverse("clarius-connect", args=[TOKEN]), HTTP_SEC_FETCH_SITE="cross-site"
    )
    assert response.status_code == 302
    assert not ClariusLink.objects.exists()  # a GET never links
    kept_for(client, 30)  # bob comes back to the portal later
    assert client.get(reverse("clarius-link")).status_code == 410
    assert client.post(reverse("clarius-link"), {"institution": "northside"}).status_code != 302
    assert not ClariusLink.objects.exists()
