"""QA reviewers and QA leads: administrators mark members on the members pages and over
the API, audited like the trainee flag; only reviewers and administrators may hold the
roles, and a member made a clinician loses them."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.tenants.models import Membership
from tests.qa.setup_fixtures import add_member, membership, patch

pytestmark = pytest.mark.django_db


def role_url(m):
    return reverse("member-qa-role", args=[m.pk])


def api_url(m):
    return reverse("api-member-detail", args=[m.pk])


def test_an_admin_makes_a_reviewer_a_qa_reviewer_and_lead_audited(client, trio):
    alice, bob, _ = trio
    client.force_login(alice)
    html = client.get(reverse("member-list")).content.decode()
    assert "Make QA reviewer" in html and "Make QA lead" in html
    response = client.post(role_url(membership(bob)), {"role": "is_qa_reviewer", "value": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("member-list")
    assert membership(bob).is_qa_reviewer is True
    event = AuditEvent.objects.get(action="change_role")
    assert event.detail == {"email": "bob@example.org", "role": "reviewer", "is_qa_reviewer": True}
    response = client.post(
        role_url(membership(bob)), {"role": "is_qa_lead", "value": "1", "next": "detail"}
    )
    assert response["Location"] == reverse("member-detail", args=[membership(bob).pk])
    assert membership(bob).is_qa_lead is True
    html = client.get(reverse("member-detail", args=[membership(bob).pk])).content.decode()
    assert '<span class="state state-qa">QA lead</span>' in html
    assert '<span class="state state-qa">QA reviewer</span>' in html
    client.post(role_url(membership(bob)), {"role": "is_qa_lead", "value": "0"})
    assert membership(bob).is_qa_lead is False
    # The same value again records nothing.
    client.post(role_url(membership(bob)), {"role": "is_qa_lead", "value": "0"})
    assert AuditEvent.objects.filter(action="change_role").count() == 3


def test_a_clinician_cannot_be_given_a_qa_role(client, trio, northside):
    client.force_login(trio[0])
    carol = add_member(northside, "carol@example.org", "clinician")
    response = client.post(role_url(carol), {"role": "is_qa_reviewer", "value": "1"}, follow=True)
    assert "only reviewers and administrators can be QA reviewers" in response.content.decode()
    carol.refresh_from_db()
    assert carol.is_qa_reviewer is False
    assert not AuditEvent.objects.filter(action="change_role").exists()
    html = client.get(reverse("member-detail", args=[carol.pk])).content.decode()
    assert "Make QA reviewer" not in html


def test_a_member_made_a_clinician_loses_the_qa_roles(client, trio):
    alice, bob, _ = trio
    client.force_login(alice)
    client.post(role_url(membership(bob)), {"role": "is_qa_reviewer", "value": "1"})
    client.post(role_url(membership(bob)), {"role": "is_qa_lead", "value": "1"})
    client.post(reverse("member-role", args=[membership(bob).pk]), {"role": "clinician"})
    bob_now = membership(bob)
    assert bob_now.role == "clinician"
    assert bob_now.is_qa_reviewer is False and bob_now.is_qa_lead is False
    [event] = [e for e in AuditEvent.objects.filter(action="change_role") if "previous" in e.detail]
    assert event.detail["previous"] == "reviewer" and event.detail["role"] == "clinician"
    assert event.detail["is_qa_reviewer"] is False and event.detail["is_qa_lead"] is False


@pytest.mark.parametrize(
    "data",
    [
        {"role": "is_trainee", "value": "1"},
        {"role": "is_qa_lead", "value": "yes"},
        {"role": "is_qa_lead\x00", "value": "1"},
        {"role": "", "value": ""},
        {},
    ],
)
def test_a_bad_value_changes_nothing(client, trio, data):
    client.force_login(trio[0])
    response = client.post(role_url(membership(trio[1])), data)
    assert response.status_code == 302
    m = membership(trio[1])
    assert (m.is_qa_reviewer, m.is_qa_lead, m.is_trainee) == (False, False, False)


def test_only_the_institutions_admins(client, trio):
    alice, bob, charlie = trio
    for user in (bob, charlie):
        client.force_login(user)
        for target in (membership(alice), membership(bob)):
            response = client.post(role_url(target), {"role": "is_qa_lead", "value": "1"})
            assert response.status_code == 404
    assert not membership(bob).is_qa_lead and not membership(alice).is_qa_lead
    client.force_login(alice)
    assert client.get(role_url(membership(bob))).status_code == 405


def test_the_api_shows_and_sets_the_qa_roles(client, trio):
    alice, bob, _ = trio
    client.force_login(alice)
    document = client.get(api_url(membership(bob))).json()
    assert document["is_qa_reviewer"] is False and document["is_qa_lead"] is False
    response = patch(client, api_url(membership(bob)), {"is_qa_reviewer": True, "is_qa_lead": True})
    assert response.status_code == 200
    assert response.json()["is_qa_reviewer"] is True and response.json()["is_qa_lead"] is True
    event = AuditEvent.objects.get(action="change_role")
    assert event.detail == {
        "email": "bob@example.org",
        "role": "reviewer",
        "is_qa_lead": True,
        "is_qa_reviewer": True,
    }
    response = patch(client, api_url(membership(bob)), {"role": "clinician"})
    assert response.json()["is_qa_reviewer"] is False and response.json()["is_qa_lead"] is False


def test_the_api_refuses_a_qa_role_for_a_clinician(client, trio, northside):
    client.force_login(trio[0])
    carol = add_member(northside, "carol@example.org", "clinician")
    response = patch(client, api_url(carol), {"is_qa_lead": True})
    assert response.status_code == 400
    assert "only reviewers and administrators" in response.content.decode()
    assert [e["field"] for e in response.json()["errors"]] == ["is_qa_lead"]
    # Made a reviewer in the same request: allowed, the role changes first.
    response = patch(client, api_url(carol), {"role": "reviewer", "is_qa_lead": True})
    assert response.status_code == 200 and response.json()["is_qa_lead"] is True
    # Made a clinician while asking for a QA role: refused whole.
    response = patch(client, api_url(carol), {"role": "clinician", "is_qa_reviewer": True})
    assert response.status_code == 400
    carol.refresh_from_db()
    assert carol.role == "reviewer" and carol.is_qa_lead is True


@pytest.mark.parametrize(
    "body", [{"is_qa_lead": "true"}, {"is_qa_reviewer": 1}, {"is_qa_lead": None}, {"x": True}]
)
def test_the_api_refuses_what_is_not_a_boolean(client, trio, body):
    client.force_login(trio[0])
    response = patch(client, api_url(membership(trio[1])), body)
    assert response.status_code == 400
    assert membership(trio[1]).is_qa_lead is False


def test_the_api_is_for_the_institutions_admins_only(client, trio):
    alice, bob, charlie = trio
    for user in (bob, charlie):
        client.force_login(user)
        assert patch(client, api_url(membership(bob)), {"is_qa_lead": True}).status_code == 404
    assert membership(bob).is_qa_lead is False


def test_the_member_command_making_a_clinician_clears_the_qa_roles(trio):
    bob = trio[1]
    Membership.objects.filter(pk=membership(bob).pk).update(is_qa_reviewer=True, is_qa_lead=True)
    call_command("member", "add", "northside", bob.email, "--role", "clinician")
    m = membership(bob)
    assert m.role == "clinician" and not m.is_qa_reviewer and not m.is_qa_lead
