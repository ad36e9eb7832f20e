"""The audit log over the API: administrators, the page's filters and more, JSON lines
or CSV, streamed and bounded, and the export itself recorded."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.api import audit_log
from portal.exams.models import AuditEvent
from portal.tenants.models import Institution

URL = "/api/v1/audit-log/"


@pytest.fixture
def events(trio, northside, southside):
    alice, bob, charlie = trio
    made = []
    for n, (user, action, institution) in enumerate(
        [
            (bob, "view_exam", northside),
            (bob, "download_report", northside),
            (alice, "change_role", northside),
            (charlie, "view_exam", southside),
        ]
    ):
        made.append(
            AuditEvent.objects.create(
                institution=institution,
                user=user,
                action=action,
                object_type="exam",
                object_id=str(100 + n),
                detail={"note": f"=cmd|{n}", "bidi": "\u202eevil"},
            )
        )
    return made


def lines(response):
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in body.splitlines()]


def test_it_answers_json_lines_of_this_institution_newest_first(api, events):
    response = api("alice").get(URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/jsonl")
    rows = lines(response)
    # The export is recorded before the first row leaves, and is the newest event.
    assert rows[0]["action"] == "export_audit_log"
    assert [r["object_id"] for r in rows[1:]] == ["102", "101", "100"]
    assert rows[1]["user"]["email"] == "alice@example.org"
    assert "\u202e" not in json.dumps(rows, ensure_ascii=False)
    export = AuditEvent.objects.get(action="export_audit_log")
    assert export.detail == {"filters": {}, "via": "api", "format": "jsonl"}


@pytest.mark.parametrize(
    "params, headers",
    [({"format": "csv"}, {}), ({}, {"Accept": "text/csv"})],
)
def test_it_answers_csv_as_the_page_exports_it(api, events, params, headers):
    response = api("alice").get(URL, params, headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["time", "user", "action"]
    assert len(rows) == 1 + 4  # the header, the export, three events
    assert all(not cell.startswith("=") for row in rows for cell in row)


def test_it_filters(api, events, users):
    client = api("alice")
    by_action = lines(client.get(URL, {"action": "download_report"}))
    assert [r["object_id"] for r in by_action] == ["101"]
    by_user = lines(client.get(URL, {"user": users["bob"].pk}))
    assert {r["object_id"] for r in by_user} == {"100", "101"}
    by_object = lines(client.get(URL, {"object_type": "exam", "object_id": "102"}))
    assert [r["object_id"] for r in by_object] == ["102"]
    today = timezone.localdate()
    in_range = lines(client.get(URL, {"date_from": today, "date_to": today, "action": "view_exam"}))
    assert [r["object_id"] for r in in_range] == ["100"]
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert lines(client.get(URL, {"since": future})) == []


@pytest.mark.parametrize(
    "params",
    [
        {"action": "nope"},
        {"action": "view_exam\x00"},
        {"user": "abc"},
        {"user": "999999"},
        {"date_from": "2026-13-40"},
        {"date_from": "0001-01-01"},
        {"since": "yesterday"},
        {"until": "9999-12-31T23:59:59-23:59"},
        {"object_id": "x" * 65},
        {"object_type": "ex\x00am"},
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "1" * 40},
        {"cursor": "garbage"},
        {"cursor": "\x00" * 10},
        {"format": "xml"},
    ],
)
def test_bad_filters_are_4xx_with_the_reason(api, events, params):
    response = api("alice").get(URL, params)
    assert 400 <= response.status_code < 500
    assert not AuditEvent.objects.filter(action="export_audit_log").exists()


def test_json_is_not_acceptable(api, events):
    response = api("alice").get(URL, headers={"Accept": "application/json"})
    assert response.status_code == 406


def test_it_is_bounded_and_links_to_the_rest(api, events, monkeypatch):
    monkeypatch.setattr(audit_log, "MAX_ROWS", 2)
    client = api("alice")
    first = client.get(URL, {"action": "view_exam"})
    assert [r["object_id"] for r in lines(first)] == ["100"]  # one only: this institution
    assert "Link" not in first
    seen, url, pages = [], f"{URL}?limit=5", 0  # a larger limit is the maximum
    while url:
        response = client.get(url)
        page = lines(response)
        assert len(page) <= 2
        seen += page
        pages += 1
        link = response.get("Link")
        url = link[1 : link.index(">")] if link else None
    # The export of the first answer, then the three events of Northside, none twice or
    # skipped; the later answers' own exports are newer than where the first one began.
    place = str(Institution.objects.get(slug="northside").pk)  # what an export is about
    assert [r["object_id"] for r in seen] == [place, place, "102", "101", "100"]
    assert len({r["id"] for r in seen}) == 5 and pages == 3


def test_only_administrators_of_the_institution(api, events):
    assert api("bob").get(URL).status_code == 404
    assert api("alice", "southside").get(URL).status_code == 404
    # charlie, admin of Southside, sees only Southside's events.
    rows = lines(api("charlie").get(URL))
    assert {r["object_id"] for r in rows if r["action"] != "export_audit_log"} == {"103"}


def test_the_route_is_named():
    assert reverse("api-audit-log") == URL
