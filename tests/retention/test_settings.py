"""The retention period on the institution's settings page: 1 to 36,500 days, or empty
for never; only the institution's administrators change it, and only for their own."""

import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.tenants.models import Institution

pytestmark = pytest.mark.django_db

URL = reverse("institution-settings")


def data(days, **changes):
    return {
        "idle_timeout_minutes": "30",
        "time_zone": "UTC",
        "attestation_statement": "I reviewed the images and agree.",
        "password_sign_in": "on",
        "media_retention_days": days,
        **changes,
    }


def days_of(institution):
    return Institution.objects.get(pk=institution.pk).media_retention_days


def test_the_field_is_on_the_page_and_says_what_it_does(client, trio):
    client.force_login(trio[0])
    page = client.get(URL).content.decode()
    assert 'name="media_retention_days"' in page
    assert "thumbnails, worksheets and reports are kept" in page


@pytest.mark.parametrize(("value", "stored"), [("1", 1), ("365", 365), ("36500", 36500)])
def test_an_administrator_sets_a_period(client, trio, northside, value, stored):
    client.force_login(trio[0])
    assert client.post(URL, data(value)).status_code == 302
    assert days_of(northside) == stored
    event = AuditEvent.objects.filter(action=AuditEvent.Action.CHANGE_SETTINGS).latest("at")
    assert "media_retention_days" in event.detail["changed"]


def test_digits_of_another_script_are_the_number_they_write(client, trio, northside):
    client.force_login(trio[0])
    assert client.post(URL, data("\u0661\u0662")).status_code == 302  # Arabic-Indic 12
    assert days_of(northside) == 12


def test_empty_means_never(client, trio, northside):
    Institution.objects.filter(pk=northside.pk).update(media_retention_days=90)
    client.force_login(trio[0])
    assert client.post(URL, data("")).status_code == 302
    assert days_of(northside) is None


@pytest.mark.parametrize(
    "value", ["0", "-1", "36501", "99999999999999999999", "1.5", "abc", "1e3", "12\x00"]
)
def test_a_period_out_of_range_or_not_a_number_is_refused(client, trio, northside, value):
    Institution.objects.filter(pk=northside.pk).update(media_retention_days=90)
    client.force_login(trio[0])
    response = client.post(URL, data(value, time_zone="Asia/Tokyo"))
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert days_of(northside) == 90  # nothing half-written
    assert Institution.objects.get(pk=northside.pk).time_zone != "Asia/Tokyo"


def test_a_reviewer_cannot_change_it(client, trio, northside):
    client.force_login(trio[1])  # bob, reviewer at Northside
    assert client.post(URL, data("1")).status_code == 404
    assert days_of(northside) is None


def test_a_clinician_cannot_change_it(client, trio, southside):
    client.force_login(trio[0])  # alice is a clinician at Southside
    client.post(reverse("switch-institution"), {"institution": "southside"})
    assert client.post(URL, data("1")).status_code == 404
    assert days_of(southside) is None


def test_an_admin_changes_only_their_own_institution(client, trio, northside, southside):
    client.force_login(trio[2])  # charlie, admin of Southside
    assert client.post(URL, data("30")).status_code == 302
    assert days_of(southside) == 30 and days_of(northside) is None
