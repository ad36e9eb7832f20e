"""Times in the institution's zone: pages with the abbreviation, the CSV with the offset,
the API in UTC; each institution sees its own zone."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.exams.models import AuditEvent
from portal.tenants.models import Membership
from portal.tenants.timezones import format_when, iso_local, zone_of
from tests.tenants.conftest import MOMENT, membership, set_zone

pytestmark = pytest.mark.django_db


def exported(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_a_page_shows_times_in_the_institutions_zone_with_its_abbreviation(client, trio, zoned):
    client.force_login(trio[0])
    html = client.get(reverse("audit-log")).content.decode()
    assert '<time datetime="2026-12-01T14:05:00+09:00">2026-12-01 14:05:00 JST</time>' in html
    assert "05:05" not in html


def test_the_members_page_too(client, trio, zoned):
    client.force_login(trio[0])
    html = client.get(reverse("member-detail", args=[membership(trio[1]).pk])).content.decode()
    assert "2026-12-01 14:05 JST" in html


def test_two_institutions_each_see_their_own_zone(client, trio, zoned):
    alice, _, charlie = trio
    client.force_login(charlie)
    html = client.get(reverse("audit-log")).content.decode()
    assert "2026-12-01 00:05:00 EST" in html
    assert '<time datetime="2026-12-01T00:05:00-05:00">' in html
    assert "JST" not in html
    client.force_login(alice)
    assert "2026-12-01 14:05:00 JST" in client.get(reverse("audit-log")).content.decode()


def test_the_zone_is_the_requests_only(client, trio, zoned):
    client.force_login(trio[0])
    before = timezone.get_current_timezone_name()
    client.get(reverse("audit-log"))
    assert timezone.get_current_timezone_name() == before


def test_the_csv_export_writes_the_offset_and_names_the_zone(client, trio, zoned):
    client.force_login(trio[0])
    rows = exported(client.get(reverse("audit-log-csv"), {"action": "view_exam"}))
    assert [(r["time"], r["time_zone"]) for r in rows] == [
        ("2026-12-01T14:05:00+09:00", "Asia/Tokyo")
    ]


def test_the_api_stays_in_utc(client, trio, zoned):
    client.force_login(trio[0])
    members = client.get(reverse("api-member-list")).json()["results"]
    bob = next(m for m in members if m["user"]["email"] == "bob@example.org")
    assert bob["created_at"] == "2026-12-01T05:05:00Z"
    body = b"".join(client.get("/api/v1/audit-log/", {"action": "view_exam"}).streaming_content)
    assert b"2026-12-01T05:05:00+00:00" in body
    assert b"+09:00" not in body


def test_the_api_csv_stays_in_utc(client, trio, zoned):
    client.force_login(trio[0])
    response = client.get("/api/v1/audit-log/", {"action": "view_exam", "format": "csv"})
    rows = exported(response)
    assert [(r["time"], r["time_zone"]) for r in rows] == [("2026-12-01T05:05:00+00:00", "UTC")]


def test_a_zone_this_machine_no_longer_knows_falls_back_instead_of_failing(client, trio, zoned):
    set_zone(zoned[0], "Atlantis/Capital")
    assert zone_of(zoned[0]) is not None
    client.force_login(trio[0])
    assert client.get(reverse("audit-log")).status_code == 200


def test_the_format_across_a_clock_change():
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    summer = MOMENT.replace(month=7)
    assert format_when(summer, zone=paris) == "2026-07-01 07:05 CEST"
    assert format_when(MOMENT, zone=paris) == "2026-12-01 06:05 CET"
    assert iso_local(MOMENT, paris) == "2026-12-01T06:05:00+01:00"
    assert format_when(None) == ""
    assert format_when(MOMENT, "date", paris) == "2026-12-01"


def test_the_filter_renders_a_time_element_and_leaves_text_alone():
    from zoneinfo import ZoneInfo

    from portal.exams.templatetags.display import when

    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert str(when(MOMENT)) == (
            '<time datetime="2026-12-01T14:05:00+09:00">2026-12-01 14:05 JST</time>'
        )
        assert str(when(MOMENT, "seconds")).endswith(">2026-12-01 14:05:00 JST</time>")
    assert when(None) == ""
    assert when("yesterday") == "yesterday"


def test_the_audit_log_days_are_the_institutions(client, trio, zoned):
    # 05:05 UTC on 1 December is 1 December in Tokyo, 1 December (00:05) in Toronto; an
    # event at 20:00 UTC on 30 November is already 1 December in Tokyo.
    import datetime

    event = AuditEvent.objects.create(
        institution=zoned[0],
        user=trio[1],
        action="open_media",
        object_type="capture",
        object_id="2",
    )
    late = datetime.datetime(2026, 11, 30, 20, 0, tzinfo=datetime.UTC)
    AuditEvent.objects.filter(pk=event.pk).update(at=late)
    client.force_login(trio[0])
    rows = (
        client.get(reverse("audit-log"), {"date_from": "2026-12-01", "date_to": "2026-12-01"})
        .context["page"]
        .rows
    )
    assert {e.action for e in rows} == {"open_media", "view_exam"}


def test_the_api_with_a_key_stays_in_utc(client, trio, zoned):
    from tests.api.keyring import bearer, key_for

    headers = bearer(key_for(trio[0], "northside", scope="read"))
    members = client.get(reverse("api-member-list"), headers=headers).json()["results"]
    bob = next(m for m in members if m["user"]["email"] == "bob@example.org")
    assert bob["created_at"] == "2026-12-01T05:05:00Z"


def test_django_admin_stays_in_the_installations_zone(client, trio, zoned, settings):
    from tests.conftest import make_user

    root = make_user("root@example.org")
    root.is_superuser = root.is_staff = True
    root.save()
    # A member of Northside (Tokyo) too: its zone is not the admin's.
    Membership.objects.create(user=root, institution=zoned[0], role="admin")
    settings.TIME_ZONE = "UTC"
    client.force_login(root)
    page = client.get(reverse("admin:tenants_membership_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "5:05" in html and "2:05 p.m." not in html
