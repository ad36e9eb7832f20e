import base64
import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.exams.models import AuditEvent
from tests.dashboard.conftest import exam


def event(institution, user, action="view_exam", *, at=None, **fields):
    made = AuditEvent.objects.create(
        institution=institution,
        user=user,
        action=action,
        object_type=fields.pop("object_type", "exam"),
        object_id=fields.pop("object_id", "1"),
        ip_address=fields.pop("ip_address", "10.0.0.1"),
        **fields,
    )
    if at:
        AuditEvent.objects.filter(pk=made.pk).update(at=at)
    return made


def exported(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def log(trio, northside, southside, ago):
    alice, bob, charlie = trio
    made = exam(northside, alice)
    event(northside, bob, object_id=str(made.pk), at=ago(days=2))
    event(northside, alice, "open_media", object_type="capture", at=ago(hours=1))
    event(
        northside,
        bob,
        "download_report",
        object_type="report",
        at=ago(minutes=5),
        detail={"version": 1},
    )
    event(southside, charlie, "view_exam", object_id="999", at=ago(minutes=1))
    return made


def test_the_admin_reads_the_log_newest_first(client, trio, log):
    client.force_login(trio[0])
    response = client.get(reverse("audit-log"))
    assert response.status_code == 200
    rows = response.context["page"].rows
    assert [e.action for e in rows] == ["download_report", "open_media", "view_exam"]
    html = response.content.decode()
    assert f'href="/exams/{log.pk}/"' in html
    assert "Downloaded a report" in html
    assert "999" not in html  # Southside's event


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "open_media"}, ["open_media"]),
        ({"user": "bob"}, ["download_report", "view_exam"]),
        ({"date_from": "days=1"}, ["download_report", "open_media"]),
        ({"date_to": "days=2"}, ["view_exam"]),  # up to and including that day
    ],
)
def test_it_filters_by_user_action_and_date(client, trio, log, ago, params, expected):
    users = {"bob": trio[1].pk}
    resolved = {}
    for key, value in params.items():
        if value in users:
            value = users[value]
        elif value.startswith("days="):
            value = timezone.localdate(ago(days=int(value[5:])))
        resolved[key] = value
    client.force_login(trio[0])
    rows = client.get(reverse("audit-log"), resolved).context["page"].rows
    assert [e.action for e in rows] == expected


def test_it_pages_without_counting(client, trio, northside, ago):
    for i in range(60):
        event(northside, trio[1], at=ago(minutes=i))
    client.force_login(trio[0])
    first = client.get(reverse("audit-log"))
    assert len(first.context["page"].rows) == 50
    second = client.get(reverse("audit-log") + first.context["page_links"]["next"])
    assert len(second.context["page"].rows) == 10
    seen = {e.pk for e in first.context["page"].rows} | {e.pk for e in second.context["page"].rows}
    assert len(seen) == 60


def test_a_day_at_the_end_of_the_calendar_is_a_form_error_not_a_crash(client, trio, log):
    client.force_login(trio[0])
    response = client.get(
        reverse("audit-log"), {"date_from": "0001-01-01", "date_to": "9999-12-31"}
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"date_from", "date_to"}


@pytest.mark.parametrize(
    "cursor",
    [
        base64.urlsafe_b64encode(b"[" * 1500).decode(),
        base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00",1e999]').decode(),
        base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00","1"]').decode(),
        "%%%",
    ],
)
def test_a_hostile_cursor_is_a_400_with_a_way_back(client, trio, log, cursor):
    client.force_login(trio[0])
    response = client.get(reverse("audit-log"), {"action": "view_exam", "after": cursor})
    assert response.status_code == 400
    html = response.content.decode()
    assert "no longer valid" in html
    assert f'href="{reverse("audit-log")}?action=view_exam"' in html


def test_the_csv_export_streams_the_filtered_log_and_is_itself_audited(client, trio, log):
    alice, bob, _ = trio
    client.force_login(alice)
    response = client.get(reverse("audit-log-csv"), {"user": bob.pk})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="audit-log-northside-' in response["Content-Disposition"]
    rows = exported(response)
    assert [r["action"] for r in rows] == ["download_report", "view_exam"]
    first = rows[0]
    assert first["user"] == "bob@example.org"
    assert first["description"] == "Downloaded a report"
    assert first["object_type"] == "report"
    assert first["ip_address"] == "10.0.0.1"
    assert first["detail"] == '{"version": 1}'
    assert list(first) == [
        "time",
        "user",
        "action",
        "description",
        "object_type",
        "object_id",
        "exam_id",
        "concerns",
        "ip_address",
        "detail",
        "time_zone",
    ]
    export = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT_AUDIT_LOG)
    assert (export.user, export.institution.slug) == (alice, "northside")
    assert export.detail == {"filters": {"user": str(bob.pk)}}


def test_the_export_appears_in_an_unfiltered_export(client, trio, log):
    client.force_login(trio[0])
    rows = exported(client.get(reverse("audit-log-csv")))
    assert rows[0]["action"] == "export_audit_log"
    assert len(rows) == 4  # the export and Northside's three; not Southside's
    assert "999" not in {r["object_id"] for r in rows}


def test_cells_that_a_spreadsheet_would_run_are_defused(client, trio, northside):
    event(northside, trio[1], object_type='=HYPERLINK("http://evil")', object_id="+1")
    client.force_login(trio[0])
    rows = exported(client.get(reverse("audit-log-csv")))
    hostile = next(r for r in rows if r["action"] == "view_exam")
    assert hostile["object_type"].startswith("'=")
    assert hostile["object_id"] == "'+1"


def test_charlie_exports_only_southside(client, trio, log):
    client.force_login(trio[2])
    rows = exported(client.get(reverse("audit-log-csv")))
    assert {r["object_id"] for r in rows if r["action"] == "view_exam"} == {"999"}
    assert all(r["user"] != "bob@example.org" for r in rows)
