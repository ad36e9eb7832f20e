"""Invitations: sent by an admin, accepted once by a new person or an existing user."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.exams.models import AuditEvent
from portal.tenants import invitations
from portal.tenants.invitations import hash_token
from portal.tenants.models import Invitation, Membership
from tests.conftest import PASSWORD
from tests.dashboard.conftest import in_southside

NEW_PASSWORD = "a-long-and-unusual-passphrase"


def invite(client, email, role="reviewer"):
    return client.post(reverse("member-invite"), {"email": email, "role": role})


def link_in(message):
    return re.search(r"http://\S+/invitations/(\S+)/", message.body).group(0)


@pytest.fixture
def sent(client, trio):
    """Alice (Northside admin) invites dana@example.org as reviewer; the emailed path."""
    client.force_login(trio[0])
    response = invite(client, "Dana@Example.org")
    assert response.status_code == 302
    client.logout()
    return link_in(mail.outbox[-1]).split("127.0.0.1:8000", 1)[1]


def test_the_admin_sends_an_invitation_by_email(client, trio):
    client.force_login(trio[0])
    response = invite(client, "Dana@Example.org", role="clinician")
    assert response.url == reverse("member-list")
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role) == ("dana@example.org", "clinician")
    assert invitation.institution.slug == "northside"
    assert invitation.invited_by == trio[0]
    assert invitation.expires_at - timezone.now() > timedelta(days=6, hours=23)
    [message] = mail.outbox
    assert message.to == ["dana@example.org"]
    assert "Northside Clinic" in message.subject
    token = link_in(message).rstrip("/").rsplit("/", 1)[1]
    assert invitation.token_hash == hash_token(token)
    assert token not in str(Invitation.objects.values().get())  # only its hash is kept
    assert AuditEvent.objects.filter(action="invite_member", object_id=str(invitation.pk)).exists()
    page = client.get(reverse("member-list")).content.decode()
    assert "dana@example.org" in page  # listed as an open invitation


def test_inviting_a_member_again_is_refused(client, trio):
    client.force_login(trio[0])
    response = invite(client, "BOB@example.org")
    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert not mail.outbox


def test_an_invalid_email_or_role_is_refused(client, trio):
    client.force_login(trio[0])
    assert invite(client, "not-an-email").status_code == 400
    assert invite(client, "x@example.org", role="owner").status_code == 400
    assert not Invitation.objects.exists()


def test_a_new_person_sets_a_password_and_becomes_a_member(client, sent, trio):
    response = client.get(sent)
    assert response.url == reverse("invitation-accept")  # the token leaves the address bar
    page = client.get(response.url)
    assert page.status_code == 200
    assert "Choose a password" in page.content.decode()
    response = client.post(
        reverse("invitation-accept"),
        {"full_name": "Dana Doctor", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.url == reverse("home")
    dana = get_user_model().objects.get(email="dana@example.org")
    assert dana.full_name == "Dana Doctor"
    assert dana.check_password(NEW_PASSWORD)
    assert membership_role(dana, "northside") == "reviewer"
    home = client.get(reverse("home"))
    assert home.context["user"] == dana  # logged in
    assert home.context["current_institution"].slug == "northside"
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == dana and invitation.accepted_at
    event = AuditEvent.objects.get(action="accept_invitation")
    assert (event.institution.slug, event.user) == ("northside", dana)


def test_a_weak_or_mismatched_password_is_refused(client, sent):
    client.get(sent)
    for p1, p2 in [
        ("short", "short"),
        (NEW_PASSWORD, NEW_PASSWORD + "x"),
        ("dana@example.org", "dana@example.org"),
    ]:
        response = client.post(
            reverse("invitation-accept"), {"full_name": "Dana", "password1": p1, "password2": p2}
        )
        assert response.status_code == 400
    assert not get_user_model().objects.filter(email="dana@example.org").exists()
    assert Invitation.objects.get().accepted_at is None


def test_an_existing_user_logs_in_and_accepts(client, trio):
    alice, _, charlie = trio
    client.force_login(alice)
    invite(client, "charlie@example.org", role="clinician")
    path = link_in(mail.outbox[-1]).split("127.0.0.1:8000", 1)[1]
    client.logout()
    client.get(path)
    page = client.get(reverse("invitation-accept"))
    assert "Log in to accept" in page.content.decode()
    assert "password1" not in page.content.decode()  # no second account for the address
    client.post(reverse("login"), {"username": "charlie@example.org", "password": PASSWORD})
    page = client.get(reverse("invitation-accept"))  # the session kept the token
    assert "Accept and join" in page.content.decode()
    assert membership_role(charlie, "northside") is None  # a GET never joins
    response = client.post(reverse("invitation-accept"))
    assert response.url == reverse("home")
    assert membership_role(charlie, "northside") == "clinician"
    assert membership_role(charlie, "southside") == "admin"  # untouched
    assert client.get(reverse("home")).context["current_institution"].slug == "northside"


def test_someone_logged_in_as_another_user_cannot_use_the_link(client, sent, trio):
    client.force_login(trio[1])  # bob opens dana's link
    client.get(sent)
    response = client.post(reverse("invitation-accept"))
    assert response.status_code == 403
    assert "for someone else" in response.content.decode()
    assert Invitation.objects.get().accepted_at is None


def test_a_link_works_once(client, sent):
    client.get(sent)
    client.post(
        reverse("invitation-accept"),
        {"full_name": "Dana", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    client.logout()
    client.get(sent)
    response = client.get(reverse("invitation-accept"))
    assert response.status_code == 410
    assert "already been used" in response.content.decode()
    assert get_user_model().objects.filter(email="dana@example.org").count() == 1


def test_a_link_used_in_another_browser_meanwhile_makes_no_second_account(client, sent):
    client.get(sent)
    client.get(reverse("invitation-accept"))
    Invitation.objects.update(accepted_at=timezone.now())  # someone else was faster
    response = client.post(
        reverse("invitation-accept"),
        {"full_name": "Dana", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 410
    assert not get_user_model().objects.filter(email="dana@example.org").exists()


def test_an_expired_link_is_refused_with_a_clear_page(client, sent):
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    client.get(sent)
    response = client.get(reverse("invitation-accept"))
    assert response.status_code == 410
    html = response.content.decode()
    assert "expired" in html
    assert "alice@example.org" in html  # who to ask for a new one


def test_a_cancelled_or_replaced_link_is_refused(client, trio, sent):
    client.force_login(trio[0])
    invite(client, "dana@example.org", role="clinician")  # sent again, with another role
    client.logout()
    client.get(sent)
    response = client.get(reverse("invitation-accept"))
    assert response.status_code == 410
    assert "withdrawn" in response.content.decode()
    assert Invitation.objects.open().get().role == "clinician"


def test_an_unknown_token_or_no_token_is_a_404(client, db):
    client.get("/invitations/not-a-real-token/")
    assert client.get(reverse("invitation-accept")).status_code == 404
    client.logout()
    assert client.get(reverse("invitation-accept")).status_code == 404


def test_the_admin_cancels_an_invitation(client, trio, sent):
    client.force_login(trio[0])
    invitation = Invitation.objects.get()
    response = client.post(reverse("invitation-cancel", args=[invitation.pk]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.cancelled_at is not None
    assert AuditEvent.objects.filter(action="cancel_invitation").exists()


def test_another_institutions_admin_cannot_see_or_cancel_it(client, trio, sent):
    invitation = Invitation.objects.get()
    client.force_login(trio[2])  # charlie, admin of Southside
    assert client.post(reverse("invitation-cancel", args=[invitation.pk])).status_code == 404
    assert "dana@example.org" not in client.get(reverse("member-list")).content.decode()
    client.force_login(trio[0])
    in_southside(client)  # alice, but working in Southside (a clinician there)
    assert client.post(reverse("invitation-cancel", args=[invitation.pk])).status_code == 404
    invitation.refresh_from_db()
    assert invitation.cancelled_at is None


def test_an_invitation_only_ever_joins_its_own_institution(client, trio, sent):
    client.force_login(trio[2])  # charlie, working in Southside, invites dana there
    invite(client, "dana@example.org", role="admin")
    client.logout()
    client.get(sent)  # but dana opens the Northside link
    client.post(
        reverse("invitation-accept"),
        {"full_name": "Dana", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    dana = get_user_model().objects.get(email="dana@example.org")
    assert membership_role(dana, "northside") == "reviewer"
    assert membership_role(dana, "southside") is None


def membership_role(user, slug):
    found = Membership.objects.filter(user=user, institution__slug=slug).first()
    return found.role if found else None


def test_an_account_made_meanwhile_for_the_address_is_not_made_twice(client, sent):
    from tests.conftest import make_user

    client.get(sent)
    client.get(reverse("invitation-accept"))
    make_user("dana@example.org")
    response = client.post(
        reverse("invitation-accept"),
        {"full_name": "Dana", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    # The page now asks them to log in; nothing was created or used.
    assert response.status_code == 200
    assert "Log in to accept" in response.content.decode()
    assert Invitation.objects.get().accepted_at is None


def _join_concurrently(base_url, token, people, logged_in_as=None):
    """``people`` browsers open the same link, fill in the form, and submit at once
    (each logged in as ``logged_in_as`` in its own session, if given)."""
    accept_url = base_url + reverse("invitation-accept")
    browsers = []
    for _ in range(people):
        browser = requests.Session()
        if logged_in_as is not None:
            django_client = Client()
            django_client.force_login(logged_in_as)
            browser.cookies.update({k: morsel.value for k, morsel in django_client.cookies.items()})
        page = browser.get(f"{base_url}/invitations/{token}/", timeout=30)
        assert page.status_code == 200
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        browsers.append((browser, csrf))
    barrier = threading.Barrier(people)

    def submit(browser_and_csrf):
        browser, csrf = browser_and_csrf
        form = {
            "csrfmiddlewaretoken": csrf,
            "full_name": "Dana",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        }
        barrier.wait()
        response = browser.post(accept_url, data=form, allow_redirects=False, timeout=60)
        return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=people) as pool:
        return list(pool.map(submit, browsers))


@pytest.mark.django_db(transaction=True)
def test_one_link_submitted_by_four_browsers_at_once_makes_one_member_and_three_410s(
    live_server, trio, northside
):
    _, token = invitations.invite(northside, "dana@example.org", "reviewer", trio[0])
    answers = _join_concurrently(live_server.url, token, people=4)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [302, 410, 410, 410], answers
    for status, html in answers:
        if status == 410:
            assert "already been used" in html
    dana = get_user_model().objects.get(email="dana@example.org")  # one account, no halves
    assert list(Membership.objects.filter(user=dana).values_list("role", flat=True)) == ["reviewer"]
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == dana
    assert AuditEvent.objects.filter(action="accept_invitation").count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_user_accepting_in_three_tabs_at_once_joins_once_and_the_others_get_410(
    live_server, trio, northside
):
    from tests.conftest import make_user

    dana = make_user("dana@example.org", "Dana")
    _, token = invitations.invite(northside, "dana@example.org", "reviewer", trio[0])
    answers = _join_concurrently(live_server.url, token, people=3, logged_in_as=dana)
    assert sorted(status for status, _ in answers) == [302, 410, 410], answers
    assert Membership.objects.filter(user=dana).count() == 1
    assert AuditEvent.objects.filter(action="accept_invitation").count() == 1
