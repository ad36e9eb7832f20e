"""The audit log as a privacy officer reads it: whose exam each row concerns, kinds of
action in words, and the events of sign-ins and API keys."""

import csv
import datetime
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.api import keys
from portal.exams import audit_display
from portal.exams.models import AuditEvent, Capture, Patient
from portal.tenants.models import Membership
from tests.conftest import PASSWORD
from tests.dashboard.conftest import exam
from tests.factories import make_exam


def record(institution, user, action, obj_type, obj_id, **detail):
    return AuditEvent.objects.create(
        institution=institution,
        user=user,
        action=action,
        object_type=obj_type,
        object_id=str(obj_id),
        detail=detail,
    )


@pytest.fixture
def opened(trio, northside, southside):
    """Bob opened a capture of a Northside exam; Charlie one of Southside's."""
    alice, bob, charlie = trio
    north = make_exam(
        northside, alice, submitted_at=timezone.make_aware(datetime.datetime(2026, 3, 12, 12))
    )
    south = make_exam(southside, charlie)
    north_capture = north.captures.get()
    record(northside, bob, "open_media", "capture", north_capture.pk, via="exam_page")
    record(southside, charlie, "open_media", "capture", south.captures.get().pk)
    return north, south


def test_every_action_has_a_kind():
    grouped = [a for _, (_, actions) in audit_display.KINDS.items() for a in actions]
    assert sorted(grouped) == sorted(AuditEvent.Action.values)


def test_a_row_names_the_exam_and_patient_id_not_capture_23(client, trio, opened):
    north, south = opened
    client.force_login(trio[0])
    html = client.get(reverse("audit-log")).content.decode()
    label = f"Exam of 12 Mar 2026 · patient ID MRN-{north.pk}"
    assert label in html
    assert f'href="/exams/{north.pk}/"' in html
    assert "Pat Example" not in html  # the identifier, never the name
    # Southside's exam is nowhere in Northside's log.
    assert f"MRN-{south.pk}" not in html


def test_without_an_identifier_the_accession_number_names_the_patient(trio, northside):
    made = make_exam(northside, trio[0])
    Patient.objects.filter(exam=made).update(identifier="", extra={"accession_number": "A-77"})
    event = record(northside, trio[1], "view_exam", "exam", made.pk)
    [described] = audit_display.describe([event])
    assert described.subject.patient_id == "accession A-77"
    assert described.subject.exam_id == made.pk


def test_another_institutions_exam_is_never_named(trio, northside, southside):
    """An event whose id happens to be another institution's exam names no exam."""
    south = make_exam(southside, trio[2])
    event = record(northside, trio[1], "view_exam", "exam", south.pk)
    [described] = audit_display.describe([event])
    assert described.subject.exam_id is None
    assert "MRN" not in described.subject.text


def test_the_csv_and_the_api_name_the_exam_too(client, trio, opened):
    north, _ = opened
    client.force_login(trio[0])
    response = client.get(reverse("audit-log-csv"), {"action": "open_media"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    [row] = rows
    assert row["exam_id"] == str(north.pk)
    capture = north.captures.get()
    assert (
        row["concerns"] == f"Capture {capture.pk} · Exam of 12 Mar 2026 · patient ID MRN-{north.pk}"
    )
    response = client.get(reverse("api-audit-log"), {"action": "open_media"})
    [line] = [json.loads(x) for x in b"".join(response.streaming_content).decode().splitlines()]
    assert line["exam"] == {
        "id": north.pk,
        "label": f"Exam of 12 Mar 2026 · patient ID MRN-{north.pk}",
        "patient_id": f"patient ID MRN-{north.pk}",
    }


def test_the_page_filters_by_kind_of_action(client, trio, opened, northside):
    alice, bob, _ = trio
    record(northside, bob, "sign_findings", "exam", opened[0].pk)
    record(northside, bob, "login", "user", bob.pk)
    client.force_login(alice)
    response = client.get(reverse("audit-log"), {"kind": "review"})
    assert [e.action for e in response.context["page"].rows] == ["sign_findings"]
    html = response.content.decode()
    assert '<optgroup label="Review and signing">' in html
    assert "Signed the findings" in html
    response = client.get(reverse("audit-log"), {"kind": "sessions"})
    assert [e.action for e in response.context["page"].rows] == ["login"]
    # An unknown kind is ignored, never a 500.
    assert client.get(reverse("audit-log"), {"kind": "<script>"}).status_code == 200


def test_a_reviewer_or_clinician_has_no_audit_log(client, trio):
    client.force_login(trio[1])
    assert client.get(reverse("audit-log")).status_code == 404


# --- Sign-ins ------------------------------------------------------------------------


def test_a_failed_sign_in_is_an_event_with_the_address_and_no_password(client, trio):
    alice = trio[0]
    response = client.post(
        reverse("login"), {"username": "Alice@Example.org", "password": "wrong-pw-123"}
    )
    assert response.status_code == 200
    events = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED)
    assert sorted(e.institution.slug for e in events) == ["northside", "southside"]
    for e in events:
        assert (e.user, e.object_type, e.object_id) == (alice, "user", str(alice.pk))
        assert e.detail == {"username": "alice@example.org"}
        assert "wrong-pw" not in json.dumps(e.detail)
    assert events[0].get_action_display() == "Failed to sign in"


def test_a_failed_sign_in_with_an_unknown_address_names_no_institution(client, trio):
    client.post(reverse("login"), {"username": "nobody@example.org", "password": "x"})
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED).exists()


def test_signing_in_and_out_are_events(client, trio):
    bob = trio[1]
    client.post(reverse("login"), {"username": bob.email, "password": PASSWORD})
    client.post(reverse("logout"))
    actions = list(
        AuditEvent.objects.filter(user=bob).order_by("at").values_list("action", flat=True)
    )
    assert actions == ["login", "logout"]


# --- API keys -------------------------------------------------------------------------


def test_an_api_key_is_recorded_on_its_first_use_each_day(client, trio, northside):
    bob = trio[1]
    membership = Membership.objects.get(user=bob, institution=northside)
    key, text = keys.create_key(membership, name="EHR bridge", scope="read", created_by=trio[0])
    auth = {"Authorization": f"Bearer {text}"}
    url = reverse("api-exam-list")
    for _ in range(3):
        assert client.get(url, headers=auth).status_code == 200
    used = AuditEvent.objects.filter(action=AuditEvent.Action.API_KEY_USED)
    assert [(e.user, e.institution, e.object_id, e.detail["name"]) for e in used] == [
        (bob, northside, str(key.pk), "EHR bridge")
    ]
    # The next day (last used yesterday): once more.
    yesterday = timezone.now() - datetime.timedelta(days=1, minutes=5)
    type(key).objects.filter(pk=key.pk).update(last_used_at=yesterday)
    assert client.get(url, headers=auth).status_code == 200
    assert used.all().count() == 2


def test_a_bad_key_records_no_use(client, trio):
    client.get(
        reverse("api-exam-list"), headers={"Authorization": "Bearer cpk_aaaaaaaa_" + "b" * 32}
    )
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.API_KEY_USED).exists()


def test_the_first_use_of_the_day_is_counted_in_the_institutions_zone(northside):
    zone = "Pacific/Auckland"
    northside.time_zone = zone
    now = timezone.make_aware(datetime.datetime(2026, 3, 12, 5, 0), datetime.UTC)
    # 23:30 UTC the evening before is 12:30 the same day in Auckland.
    same_day = timezone.make_aware(datetime.datetime(2026, 3, 11, 23, 30), datetime.UTC)
    assert not keys.first_use_of_day(same_day, now, northside)
    assert keys.first_use_of_day(None, now, northside)


def test_an_unused_capture_id_still_reads_in_words(trio, northside):
    event = record(northside, trio[1], "open_media", "capture", "999999")
    [described] = audit_display.describe([event])
    assert described.subject.text == "Capture 999999"
    assert not Capture.objects.filter(pk=999999).exists()


def test_a_deleted_exam_keeps_its_row_readable(trio, northside):
    made = exam(northside, trio[0])
    event = record(northside, trio[1], "view_exam", "exam", made.pk)
    made.delete()
    [described] = audit_display.describe([event])
    assert described.subject.text == f"Exam {made.pk}" or described.subject.text.startswith("Exam ")


def test_the_api_export_filters_by_kind_and_refuses_an_unknown_one(client, trio, northside):
    alice, bob, _ = trio
    record(northside, bob, "login_failed", "user", bob.pk, username="bob@example.org")
    record(northside, bob, "view_exam", "exam", 1)
    client.force_login(alice)
    response = client.get(reverse("api-audit-log"), {"kind": "sessions"})
    lines = [json.loads(x) for x in b"".join(response.streaming_content).decode().splitlines()]
    assert [line["action"] for line in lines] == ["login_failed"]
    assert lines[0]["description"] == "Failed to sign in"
    assert client.get(reverse("api-audit-log"), {"kind": "nonsense"}).status_code == 400
