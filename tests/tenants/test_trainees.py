"""Trainees: administrators mark members (the page and the API), audited as a role change;
credentials on the profile page and by the command."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from portal.exams.models import AuditEvent
from tests.tenants.conftest import membership

pytestmark = pytest.mark.django_db


def trainee_url(m):
    return reverse("member-trainee", args=[m.pk])


def api_url(m):
    return reverse("api-member-detail", args=[m.pk])


def patch(client, url, body):
    import json

    return client.patch(url, json.dumps(body), content_type="application/json")


def test_an_admin_marks_a_trainee_and_it_is_audited_and_shown(client, trio):
    alice, bob, _ = trio
    client.force_login(alice)
    response = client.post(trainee_url(membership(bob)), {"trainee": "1"})
    assert response.status_code == 302
    assert membership(bob).is_trainee is True
    event = AuditEvent.objects.get(action="change_role")
    assert event.detail == {"email": "bob@example.org", "role": "reviewer", "trainee": True}
    html = client.get(reverse("member-list")).content.decode()
    assert '<span class="state state-trainee">Trainee</span>' in html
    client.post(trainee_url(membership(bob)), {"trainee": "0", "next": "detail"})
    assert membership(bob).is_trainee is False
    assert AuditEvent.objects.filter(action="change_role").count() == 2


def test_the_same_value_again_records_nothing(client, trio):
    client.force_login(trio[0])
    client.post(trainee_url(membership(trio[1])), {"trainee": "0"})
    assert not AuditEvent.objects.filter(action="change_role").exists()


@pytest.mark.parametrize("value", ["", "yes", "2", "true"])
def test_a_bad_value_changes_nothing(client, trio, value):
    client.force_login(trio[0])
    response = client.post(trainee_url(membership(trio[1])), {"trainee": value})
    assert response.status_code == 302
    assert membership(trio[1]).is_trainee is False


def test_a_reviewer_and_a_stranger_get_a_404(client, trio):
    alice, bob, charlie = trio
    for user in (bob, charlie):
        client.force_login(user)
        assert client.post(trainee_url(membership(alice)), {"trainee": "1"}).status_code == 404
        assert client.post(trainee_url(membership(bob)), {"trainee": "1"}).status_code == 404
    assert not membership(alice).is_trainee and not membership(bob).is_trainee


def test_the_form_needs_post(client, trio):
    client.force_login(trio[0])
    assert client.get(trainee_url(membership(trio[1]))).status_code == 405


def test_the_api_shows_and_sets_the_flag(client, trio):
    alice, bob, charlie = trio
    client.force_login(alice)
    document = client.get(api_url(membership(bob))).json()
    assert document["is_trainee"] is False and document["user"]["credentials"] == ""
    response = patch(client, api_url(membership(bob)), {"is_trainee": True})
    assert response.status_code == 200 and response.json()["is_trainee"] is True
    assert membership(bob).is_trainee is True
    assert AuditEvent.objects.get(action="change_role").detail["trainee"] is True


@pytest.mark.parametrize(
    "body", [{"is_trainee": "true"}, {"is_trainee": 1}, {"is_trainee": None}, {}]
)
def test_the_api_refuses_what_is_not_a_boolean(client, trio, body):
    client.force_login(trio[0])
    response = patch(client, api_url(membership(trio[1])), body)
    assert response.status_code == 400
    assert membership(trio[1]).is_trainee is False


def test_the_api_changes_nothing_when_the_role_change_is_refused(client, trio):
    alice = trio[0]
    client.force_login(alice)
    response = patch(client, api_url(membership(alice)), {"role": "reviewer", "is_trainee": True})
    assert response.status_code == 409
    assert membership(alice).role == "admin" and membership(alice).is_trainee is False


def test_the_api_is_for_the_institutions_admins_only(client, trio):
    alice, bob, charlie = trio
    client.force_login(bob)
    assert patch(client, api_url(membership(bob)), {"is_trainee": True}).status_code == 404
    client.force_login(charlie)
    assert patch(client, api_url(membership(bob)), {"is_trainee": True}).status_code == 404
    assert membership(bob).is_trainee is False


def test_each_person_edits_their_own_credentials(client, trio):
    bob = trio[1]
    client.force_login(bob)
    page = client.get(reverse("profile"))
    assert page.status_code == 200 and 'name="credentials"' in page.content.decode()
    response = client.post(
        reverse("profile"), {"full_name": " Bob  Reviewer ", "credentials": "MD,\u202e RDMS\x07"}
    )
    assert response.status_code == 302
    bob.refresh_from_db()
    assert (bob.full_name, bob.credentials) == ("Bob Reviewer", "MD, RDMS")
    client.force_login(trio[0])
    detail = client.get(reverse("member-detail", args=[membership(bob).pk])).content.decode()
    assert "MD, RDMS" in detail


def test_credentials_too_long_are_refused(client, trio):
    bob = trio[1]
    client.force_login(bob)
    response = client.post(reverse("profile"), {"full_name": "Bob", "credentials": "x" * 101})
    assert response.status_code == 400
    bob.refresh_from_db()
    assert bob.credentials == "" and bob.full_name == "Bob Reviewer"


def test_the_profile_needs_a_login(client, db):
    response = client.get(reverse("profile"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_member_command_sets_the_flag_and_the_credentials(trio, capsys):
    bob = trio[1]
    call_command(
        "member",
        "add",
        "northside",
        bob.email,
        "--role",
        "reviewer",
        "--trainee",
        "--credentials",
        "MD",
    )
    bob.refresh_from_db()
    assert membership(bob).is_trainee is True and bob.credentials == "MD"
    assert "is a trainee" in capsys.readouterr().out
    call_command("member", "add", "northside", bob.email, "--role", "reviewer", "--no-trainee")
    bob.refresh_from_db()
    assert membership(bob).is_trainee is False and bob.credentials == "MD"


def test_the_member_command_refuses_long_credentials(trio):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="100 characters"):
        call_command(
            "member",
            "add",
            "northside",
            trio[1].email,
            "--role",
            "reviewer",
            "--credentials",
            "x" * 101,
        )
