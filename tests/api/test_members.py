"""Members and invitations over the API: administrators only, the members page's rules
(the last administrator stays one) and its audit events."""

import pytest
from django.core import mail
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.tenants.models import Invitation, Membership
from tests.api.conftest import problem_text


def membership(user, institution="northside"):
    return Membership.objects.get(user=user, institution__slug=institution)


def member_url(m):
    return reverse("api-member-detail", args=[m.pk])


@pytest.fixture
def members(trio):
    alice, bob, charlie = trio
    return {
        "alice": membership(alice),
        "bob": membership(bob),
        "charlie": membership(charlie, "southside"),
    }


def test_an_admin_lists_the_institutions_members_with_their_roles(api, members, users):
    response = api("alice").get(reverse("api-member-list"))
    assert response.status_code == 200
    rows = response.json()["results"]
    assert {(r["user"]["email"], r["role"]) for r in rows} == {
        ("alice@example.org", "admin"),
        ("bob@example.org", "reviewer"),
    }


def test_the_member_list_pages(api, members):
    client = api("alice")
    first = client.get(reverse("api-member-list"), {"page_size": 1}).json()
    assert len(first["results"]) == 1 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["results"] != first["results"]
    bad = client.get(reverse("api-member-list"), {"cursor": "n\x00garbage"})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "method, name, needs_pk",
    [
        ("get", "api-member-list", False),
        ("get", "api-member-detail", True),
        ("patch_json", "api-member-detail", True),
        ("delete", "api-member-detail", True),
        ("get", "api-invitation-list", False),
        ("post_json", "api-invitation-list", False),
    ],
)
def test_anyone_but_an_admin_gets_a_404(api, members, method, name, needs_pk):
    url = reverse(name, args=[members["bob"].pk] if needs_pk else [])
    # bob is a reviewer; alice is a clinician at Southside.
    assert getattr(api("bob"), method)(url).status_code == 404
    assert getattr(api("alice", "southside"), method)(url).status_code == 404


def test_another_institutions_member_is_a_404(api, members):
    client = api("charlie")
    assert client.get(member_url(members["bob"])).status_code == 404
    assert client.patch_json(member_url(members["bob"]), {"role": "admin"}).status_code == 404
    assert client.delete(member_url(members["bob"])).status_code == 404
    assert membership(members["bob"].user).role == "reviewer"


def test_an_admin_changes_a_role_and_it_is_audited(api, members):
    response = api("alice").patch_json(member_url(members["bob"]), {"role": "admin"})
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert membership(members["bob"].user).role == "admin"
    event = AuditEvent.objects.get(action="change_role")
    assert event.detail == {"email": "bob@example.org", "previous": "reviewer", "role": "admin"}


@pytest.mark.parametrize("role", ["owner", "", None, 1, ["admin"], "admin\x00"])
def test_a_role_that_is_not_one_is_400(api, members, role):
    response = api("alice").patch_json(member_url(members["bob"]), {"role": role})
    assert response.status_code == 400
    assert membership(members["bob"].user).role == "reviewer"


def test_the_last_admin_stays_one(api, members):
    response = api("alice").patch_json(member_url(members["alice"]), {"role": "reviewer"})
    assert response.status_code == 409
    assert "last administrator" in problem_text(response)
    response = api("alice").delete(member_url(members["alice"]))
    assert response.status_code == 409
    assert membership(members["alice"].user).role == "admin"
    assert not AuditEvent.objects.filter(action__in=["change_role", "remove_member"]).exists()


def test_an_admin_removes_a_member_and_it_is_audited(api, members):
    response = api("alice").delete(member_url(members["bob"]))
    assert response.status_code == 204
    assert not Membership.objects.filter(pk=members["bob"].pk).exists()
    event = AuditEvent.objects.get(action="remove_member")
    assert event.detail == {"email": "bob@example.org", "role": "reviewer"}


def test_an_admin_invites_by_email(api, members, users):
    response = api("alice").post_json(
        reverse("api-invitation-list"), {"email": "Dana@Example.org", "role": "reviewer"}
    )
    assert response.status_code == 201, response.content
    invitation = Invitation.objects.get()
    assert response.json()["id"] == invitation.pk
    assert "token" not in response.json()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "dana@example.org",
        "reviewer",
        users["alice"],
    )
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dana@example.org"]
    assert AuditEvent.objects.get(action="invite_member").detail == {
        "email": "dana@example.org",
        "role": "reviewer",
    }
    listed = api("alice").get(reverse("api-invitation-list")).json()["results"]
    assert [i["email"] for i in listed] == ["dana@example.org"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "bob@example.org", "role": "admin"},  # a member already
        {"email": "not an address", "role": "admin"},
        {"email": "dana@example.org", "role": "owner"},
        {"email": "dana\x00@example.org", "role": "admin"},
        {"email": "d" * 300 + "@example.org", "role": "admin"},
        {"email": ["dana@example.org"], "role": "admin"},
        {"role": "admin"},
    ],
)
def test_a_bad_invitation_is_400_and_sends_nothing(api, members, body):
    response = api("alice").post_json(reverse("api-invitation-list"), body)
    assert response.status_code == 400
    assert not Invitation.objects.exists() and not mail.outbox


def test_an_admin_withdraws_an_invitation(api, members):
    client = api("alice")
    client.post_json(
        reverse("api-invitation-list"), {"email": "dana@example.org", "role": "clinician"}
    )
    invitation = Invitation.objects.get()
    url = reverse("api-invitation-detail", args=[invitation.pk])
    assert api("charlie").delete(url).status_code == 404
    assert api("bob").delete(url).status_code == 404
    client = api("alice")  # one test client: log alice in again
    assert client.delete(url).status_code == 204
    invitation.refresh_from_db()
    assert invitation.cancelled_at is not None
    assert AuditEvent.objects.filter(action="cancel_invitation").count() == 1
    assert client.delete(url).status_code == 404  # withdrawn already
