"""The members pages: administrators only, tenant-scoped, and the last admin stays."""

import uuid

import pytest
from django.urls import reverse

from integrations.clarius.models import ClariusLink
from portal.exams.models import AuditEvent
from portal.tenants.models import Membership
from tests.conftest import make_user
from tests.dashboard.conftest import in_southside


def membership(user, slug):
    return Membership.objects.get(user=user, institution__slug=slug)


def test_the_admin_sees_the_members_with_their_clarius_link_state(client, trio, northside):
    alice, bob, _ = trio
    ClariusLink.objects.create(
        user=bob, institution=northside, token="tok-" + "b" * 20, state=ClariusLink.State.CONFIRMED
    )
    client.force_login(alice)
    response = client.get(reverse("member-list"))
    assert response.status_code == 200
    members = {m.user.email: m.links[0].state for m in response.context["members"]}
    assert members == {"alice@example.org": None, "bob@example.org": "confirmed"}
    html = response.content.decode()
    assert "charlie@example.org" not in html
    assert reverse("clarius-institution-links") in html
    assert reverse("member-invite") in html


@pytest.mark.parametrize("who", ["bob", "alice-in-southside", "charlie-in-northside"])
@pytest.mark.parametrize("name", ["member-list", "member-invite", "audit-log", "audit-log-csv"])
def test_everyone_but_the_current_institutions_admin_gets_a_404(client, trio, who, name):
    alice, bob, charlie = trio
    client.force_login({"bob": bob, "alice-in-southside": alice}.get(who, charlie))
    if who == "alice-in-southside":
        in_southside(client)
    if who == "charlie-in-northside":
        # charlie is an admin, but of Southside: Northside's pages do not exist for him.
        target = membership(bob, "northside")
        for url in [
            reverse("member-detail", args=[target.pk]),
            reverse("member-role", args=[target.pk]),
            reverse("member-remove", args=[target.pk]),
        ]:
            assert client.post(url, {"role": "admin"}).status_code == 404
            assert client.get(url).status_code in (404, 405)
        return
    method = client.post if name == "member-invite" else client.get
    assert method(reverse(name)).status_code == 404


def test_a_reviewer_cannot_change_roles_or_remove(client, trio):
    alice, bob, _ = trio
    client.force_login(bob)
    target = membership(alice, "northside")
    assert (
        client.post(reverse("member-role", args=[target.pk]), {"role": "clinician"}).status_code
        == 404
    )
    assert client.post(reverse("member-remove", args=[target.pk])).status_code == 404
    target.refresh_from_db()
    assert target.role == "admin"


def test_the_admin_changes_a_role_and_it_is_audited(client, trio):
    alice, bob, _ = trio
    client.force_login(alice)
    target = membership(bob, "northside")
    response = client.post(reverse("member-role", args=[target.pk]), {"role": "admin"})
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.role == "admin"
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHANGE_ROLE)
    assert event.institution.slug == "northside"
    assert event.detail == {"email": "bob@example.org", "previous": "reviewer", "role": "admin"}


def test_an_unknown_role_is_refused(client, trio):
    alice, bob, _ = trio
    client.force_login(alice)
    target = membership(bob, "northside")
    client.post(reverse("member-role", args=[target.pk]), {"role": "owner"})
    target.refresh_from_db()
    assert target.role == "reviewer"


def test_the_last_admin_cannot_step_down(client, trio):
    alice = trio[0]
    client.force_login(alice)
    mine = membership(alice, "northside")
    response = client.post(
        reverse("member-role", args=[mine.pk]), {"role": "reviewer"}, follow=True
    )
    mine.refresh_from_db()
    assert mine.role == "admin"
    assert "last administrator" in response.content.decode()


def test_an_admin_may_step_down_when_another_admin_remains(client, trio):
    alice, bob, _ = trio
    Membership.objects.filter(user=bob).update(role="admin")
    client.force_login(alice)
    mine = membership(alice, "northside")
    response = client.post(reverse("member-role", args=[mine.pk]), {"role": "reviewer"})
    assert response.url == reverse("home")  # the members page is no longer hers
    mine.refresh_from_db()
    assert mine.role == "reviewer"


def test_the_last_admin_cannot_remove_themself(client, trio):
    alice = trio[0]
    client.force_login(alice)
    mine = membership(alice, "northside")
    response = client.post(reverse("member-remove", args=[mine.pk]), follow=True)
    assert Membership.objects.filter(pk=mine.pk).exists()
    assert "cannot be removed" in response.content.decode()


def test_an_admin_may_leave_when_another_admin_remains(client, trio):
    alice, bob, _ = trio
    Membership.objects.filter(user=bob).update(role="admin")
    client.force_login(alice)
    mine = membership(alice, "northside")
    response = client.post(reverse("member-remove", args=[mine.pk]))
    assert response.url == reverse("home")
    assert not Membership.objects.filter(pk=mine.pk).exists()
    assert membership(alice, "southside")  # her other institution is untouched


def test_removing_a_member_unlinks_their_clarius_accounts_here_only(
    client, trio, northside, southside
):
    alice, bob, _ = trio
    dana = make_user("dana@example.org")
    Membership.objects.create(user=dana, institution=northside, role="clinician")
    Membership.objects.create(user=dana, institution=southside, role="clinician")
    here = ClariusLink.objects.create(
        user=dana,
        institution=northside,
        token=uuid.uuid4().hex,
        state=ClariusLink.State.CONFIRMED,
    )
    there = ClariusLink.objects.create(
        user=dana, institution=southside, token=uuid.uuid4().hex, state=ClariusLink.State.CONFIRMED
    )
    client.force_login(alice)
    target = membership(dana, "northside")
    response = client.post(reverse("member-remove", args=[target.pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=target.pk).exists()
    here.refresh_from_db()
    there.refresh_from_db()
    assert (here.state, there.state) == ("revoked", "confirmed")
    event = AuditEvent.objects.get(action=AuditEvent.Action.REMOVE_MEMBER)
    assert event.object_id == str(target.pk)
    assert event.detail["email"] == "dana@example.org"


def test_member_detail_shows_the_role_form_and_links(client, trio):
    alice, bob, _ = trio
    client.force_login(alice)
    target = membership(bob, "northside")
    response = client.get(reverse("member-detail", args=[target.pk]))
    assert response.status_code == 200
    assert reverse("member-role", args=[target.pk]) in response.content.decode()


def test_role_changes_and_removal_only_take_posts(client, trio):
    alice, bob, _ = trio
    client.force_login(alice)
    target = membership(bob, "northside")
    assert client.get(reverse("member-role", args=[target.pk])).status_code == 405
    assert client.get(reverse("member-remove", args=[target.pk])).status_code == 405
