"""The institution's settings page: time zone, attestation statement, whether trainees'
reports wait; administrators of the institution only."""

import pytest
from django.urls import reverse

from portal.tenants.forms import ATTESTATION_LENGTH
from portal.tenants.models import Institution, Membership

pytestmark = pytest.mark.django_db

URL = reverse("institution-settings")


def data(**changes):
    return {
        "idle_timeout_minutes": "30",
        "time_zone": "Asia/Tokyo",
        "attestation_statement": "I reviewed the images and agree.",
        "hold_trainee_reports": "on",
        **changes,
    }


def test_an_administrator_sets_the_zone_the_statement_and_the_hold(client, trio, northside):
    client.force_login(trio[0])
    page = client.get(URL).content.decode()
    assert 'name="time_zone"' in page and '<option value="Asia/Tokyo"' in page
    assert 'name="attestation_statement"' in page and 'name="hold_trainee_reports"' in page
    response = client.post(URL, data(hold_trainee_reports=""))
    assert response.status_code == 302
    northside.refresh_from_db()
    assert northside.time_zone == "Asia/Tokyo"
    assert northside.attestation_statement == "I reviewed the images and agree."
    assert northside.hold_trainee_reports is False


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "", "../../etc/passwd", "Asia/Tokyo\x00", "x" * 500]
)
def test_a_zone_that_is_not_one_is_a_form_error(client, trio, northside, zone):
    client.force_login(trio[0])
    response = client.post(URL, data(time_zone=zone))
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    northside.refresh_from_db()
    assert northside.time_zone != zone


@pytest.mark.parametrize(
    "statement",
    ["", "   ", "\u202e\x00", "x" * (ATTESTATION_LENGTH + 1)],
    ids=["empty", "blank", "controls", "long"],
)
def test_a_statement_empty_or_too_long_is_refused(client, trio, northside, statement):
    client.force_login(trio[0])
    before = northside.attestation_statement
    response = client.post(URL, data(attestation_statement=statement))
    assert response.status_code == 400
    northside.refresh_from_db()
    assert northside.attestation_statement == before
    assert northside.time_zone != "Asia/Tokyo"  # nothing half-written


def test_the_statement_keeps_its_lines_and_loses_its_controls(client, trio, northside):
    client.force_login(trio[0])
    client.post(URL, data(attestation_statement="First line.\r\nSecond\u202e line.\x07"))
    northside.refresh_from_db()
    assert northside.attestation_statement == "First line.\r\nSecond line."


def test_the_new_zone_shows_at_once(client, trio, northside):
    client.force_login(trio[0])
    client.post(URL, data(time_zone="Asia/Tokyo"))
    page = client.get(URL).content.decode()
    assert "Times are now shown in Asia/Tokyo: it is <time" in page and " JST</time>" in page
    bob = Membership.objects.get(user=trio[1])
    assert "JST" in client.get(reverse("member-detail", args=[bob.pk])).content.decode()


def test_a_reviewer_gets_a_404_and_changes_nothing(client, trio, northside):
    client.force_login(trio[1])
    assert client.get(URL).status_code == 404
    assert client.post(URL, data()).status_code == 404
    northside.refresh_from_db()
    assert northside.time_zone != "Asia/Tokyo"


def test_another_institutions_admin_changes_only_their_own(client, trio, northside, southside):
    client.force_login(trio[2])
    assert client.post(URL, data(time_zone="America/Toronto")).status_code == 302
    assert Institution.objects.get(pk=southside.pk).time_zone == "America/Toronto"
    assert Institution.objects.get(pk=northside.pk).time_zone != "America/Toronto"


def test_alice_as_a_clinician_of_southside_gets_a_404(client, trio, southside):
    client.force_login(trio[0])
    client.post(reverse("switch-institution"), {"institution": "southside"})
    assert client.post(URL, data()).status_code == 404
    assert Institution.objects.get(pk=southside.pk).time_zone != "Asia/Tokyo"


def test_the_fields_are_in_django_admin(client, db, northside):
    from tests.conftest import make_user

    root = make_user("root@example.org")
    root.is_superuser = root.is_staff = True
    root.save()
    client.force_login(root)
    page = client.get(reverse("admin:tenants_institution_change", args=[northside.pk]))
    html = page.content.decode()
    for name in ("time_zone", "attestation_statement", "hold_trainee_reports"):
        assert f'name="{name}"' in html
