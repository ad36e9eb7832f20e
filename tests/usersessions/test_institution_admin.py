"""The institution's idle timeout, set by its administrator; members' sessions, tenant-scoped."""

import pytest
from django.test import Client
from django.urls import reverse

from portal.tenants.models import Institution, Membership
from portal.usersessions.models import UserSession
from tests.usersessions.conftest import sign_in

pytestmark = pytest.mark.django_db

# The settings form's other fields (portal.tenants tests cover them), as saved.
OTHER_SETTINGS = {
    "time_zone": "UTC",
    "attestation_statement": "I reviewed the images.",
    "hold_trainee_reports": "on",
}


def test_the_administrator_sets_the_idle_timeout(client, alice, northside):
    sign_in(client, alice.email)
    page = client.get(reverse("institution-settings"))
    assert page.status_code == 200 and 'name="idle_timeout_minutes"' in page.content.decode()
    response = client.post(
        reverse("institution-settings"), {"idle_timeout_minutes": "15", **OTHER_SETTINGS}
    )
    assert response.status_code == 302
    northside.refresh_from_db()
    assert northside.idle_timeout_minutes == 15


@pytest.mark.parametrize("value", ["4", "721", "0", "-5", "abc", "", "99999999999999999999"])
def test_an_idle_timeout_out_of_bounds_is_refused_with_a_reason(client, alice, northside, value):
    sign_in(client, alice.email)
    response = client.post(reverse("institution-settings"), {"idle_timeout_minutes": value})
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    northside.refresh_from_db()
    assert northside.idle_timeout_minutes == 30


def test_the_settings_change_only_the_current_institution(client, charlie, northside, southside):
    sign_in(client, charlie.email)
    client.post(reverse("institution-settings"), {"idle_timeout_minutes": "10", **OTHER_SETTINGS})
    assert Institution.objects.get(pk=southside.pk).idle_timeout_minutes == 10
    assert Institution.objects.get(pk=northside.pk).idle_timeout_minutes == 30


def test_a_reviewer_cannot_change_the_settings(client, bob, northside):
    sign_in(client, bob.email)
    assert client.get(reverse("institution-settings")).status_code == 404
    response = client.post(reverse("institution-settings"), {"idle_timeout_minutes": "600"})
    assert response.status_code == 404
    northside.refresh_from_db()
    assert northside.idle_timeout_minutes == 30


def test_the_settings_form_needs_the_csrf_token(alice, northside):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("institution-settings"), {"idle_timeout_minutes": "5"})
    assert response.status_code == 403


def test_the_database_refuses_an_idle_timeout_out_of_bounds(northside):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Institution.objects.filter(pk=northside.pk).update(idle_timeout_minutes=1)


def test_the_idle_timeout_is_in_django_admin(client, db):
    from tests.conftest import make_user

    root = make_user("root@example.org")
    root.is_superuser = root.is_staff = True
    root.save()
    institution = Institution.objects.create(name="Eastside", slug="eastside")
    client.force_login(root)
    page = client.get(reverse("admin:tenants_institution_change", args=[institution.pk]))
    assert 'name="idle_timeout_minutes"' in page.content.decode()


def bob_member(northside, bob):
    return Membership.objects.get(institution=northside, user=bob)


def test_the_administrator_sees_and_ends_a_members_sessions(client, alice, bob, northside):
    bobs = sign_in(Client(), bob.email)
    sign_in(client, alice.email)
    member = bob_member(northside, bob)
    page = client.get(reverse("member-detail", args=[member.pk])).content.decode()
    assert "Firefox on Windows" in page and "10.0.0.1" in page
    response = client.post(reverse("member-sign-out", args=[member.pk]))
    assert response.status_code == 302
    assert bobs.get(reverse("home")).status_code == 302
    assert not UserSession.objects.filter(user=bob).exists()
    assert client.get(reverse("home")).status_code == 200


def test_another_institutions_members_sessions_are_a_404(client, charlie, bob, northside):
    bobs = sign_in(Client(), bob.email)
    sign_in(client, charlie.email)
    member = bob_member(northside, bob)
    assert client.get(reverse("member-detail", args=[member.pk])).status_code == 404
    assert client.post(reverse("member-sign-out", args=[member.pk])).status_code == 404
    assert bobs.get(reverse("home")).status_code == 200


def test_a_reviewer_cannot_end_a_colleagues_sessions(client, alice, bob, northside):
    alices = sign_in(Client(), alice.email)
    sign_in(client, bob.email)
    member = Membership.objects.get(institution=northside, user=alice)
    assert client.post(reverse("member-sign-out", args=[member.pk])).status_code == 404
    assert alices.get(reverse("home")).status_code == 200


def test_ending_a_members_sessions_needs_the_csrf_token(alice, bob, northside):
    sign_in(Client(), bob.email)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("member-sign-out", args=[bob_member(northside, bob).pk]))
    assert response.status_code == 403
    assert UserSession.objects.filter(user=bob).exists()
