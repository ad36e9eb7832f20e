"""After a purge: media links answer 410 Gone with the day, the page keeps the thumbnail,
deliveries of removed media end with the reason, research files go too."""

import io
import uuid

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from integrations.clarius.models import DicomExport, RawDataFile
from portal import storage
from portal.exams.models import AuditEvent, Capture
from portal.outbound import planning, sending
from portal.outbound.models import Destination, Transmission
from portal.retention.models import MediaPurge
from tests.outbound.conftest import make_destination, receiver  # noqa: F401 - a fixture
from tests.retention import build

pytestmark = pytest.mark.django_db

NOTE = "Media removed by the institution's retention policy on "


@pytest.fixture
def purged(local_storage, southside, trio):
    """A Southside exam (charlie's institution) signed 40 days ago, its media purged."""
    southside.media_retention_days = 30
    southside.save()
    built = build.exams(southside, 1, signed_days_ago=40, captures=2)
    clip = built.captures[1]
    Capture.objects.filter(pk=clip.pk).update(content_type="video/mp4")
    call_command("purge_media", stdout=io.StringIO())
    return built


def today():
    return timezone.localdate().isoformat()


def test_the_exam_pages_media_link_is_gone_with_the_day(client, trio, purged):
    exam, capture = purged.exams[0], purged.captures[0]
    client.force_login(trio[2])  # charlie, admin of Southside
    opened = AuditEvent.objects.filter(action=AuditEvent.Action.OPEN_MEDIA).count()
    response = client.get(reverse("exam-capture", args=[exam.pk, capture.pk]))
    assert response.status_code == 410
    text = response.content.decode()
    assert "removed by the institution's retention policy on " + today() in text
    assert response["Cache-Control"] == "private, no-store"
    # Nothing was opened: no media access to audit.
    assert AuditEvent.objects.filter(action=AuditEvent.Action.OPEN_MEDIA).count() == opened
    thumb = client.get(reverse("exam-capture-thumbnail", args=[exam.pk, capture.pk]))
    assert thumb.status_code == 200
    assert b"".join(thumb.streaming_content) == build.THUMB


def test_the_exam_page_shows_the_thumbnails_with_the_note(client, trio, purged):
    exam = purged.exams[0]
    client.force_login(trio[2])
    page = client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    # The day in the institution's zone, as every time on the pages (|when).
    assert page.count(NOTE + "<time") == 2 and page.count(f">{today()}</time>") >= 2
    for capture in purged.captures:
        assert reverse("exam-capture-thumbnail", args=[exam.pk, capture.pk]) in page
        # No link to the removed media: nothing for the viewer to open and fail on.
        assert f'href="{reverse("exam-capture", args=[exam.pk, capture.pk])}"' not in page
    assert "zoomable" not in page.split('id="captures-title"')[1].split("</section>")[0]


def test_the_api_answers_410_and_lists_no_url(client, trio, purged):
    exam, capture = purged.exams[0], purged.captures[0]
    client.force_login(trio[2])
    response = client.get(reverse("api-capture-media", args=[capture.pk]))
    assert response.status_code == 410
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 410 and body["type"].endswith("/api/problems/gone")
    assert body["detail"].endswith(f"retention policy on {today()}.")
    listed = client.get(reverse("api-exam-captures", args=[exam.pk])).json()["results"]
    assert {c["url"] for c in listed} == {None}
    assert all(c["media_purged_at"] for c in listed)


@pytest.mark.parametrize("who", ["bob", "alice_at_northside", "alice_clinician_at_southside"])
def test_other_institutions_and_roles_still_get_a_404(client, trio, purged, who):
    alice, bob, _ = trio
    exam, capture = purged.exams[0], purged.captures[0]
    client.force_login(bob if who == "bob" else alice)
    if who == "alice_clinician_at_southside":
        client.post(reverse("switch-institution"), {"institution": "southside"})
    assert client.get(reverse("exam-capture", args=[exam.pk, capture.pk])).status_code == 404
    assert client.get(reverse("api-capture-media", args=[capture.pk])).status_code == 404


def test_a_delivery_of_removed_media_ends_with_the_reason(
    local_storage,
    southside,
    receiver,  # noqa: F811 - the fixture
):
    southside.media_retention_days = 30
    southside.save()
    pacs = make_destination(southside, name="South PACS")
    built = build.exams(southside, 1, signed_days_ago=40)
    planning.plan_exam(built.exams[0])
    rows = list(Transmission.objects.filter(destination=pacs))
    assert rows
    call_command("purge_media", stdout=io.StringIO())
    for row in rows:
        assert sending.send_transmission(row.pk) == "failed"
        row.refresh_from_db()
        assert row.state == Transmission.State.FAILED and row.next_attempt_at is None
        assert "removed by the institution's retention policy" in row.last_error
    assert receiver.sent == []
    pacs = Destination.objects.get(pk=pacs.pk)
    assert pacs.failing_since is None  # the receiver is not failing: no alert


def test_research_files_are_removed_with_the_media(local_storage, southside):
    southside.media_retention_days = 30
    southside.save()
    built = build.exams(southside, 1, signed_days_ago=40)
    exam = built.exams[0]
    raw_name = f"{southside.pk}/{exam.exam_uuid}/research/raw.tar"
    dicom_name = f"{southside.pk}/{exam.exam_uuid}/research/export.zip"
    storage.save_bytes(raw_name, b"r" * 100)
    storage.save_bytes(dicom_name, b"d" * 200)
    RawDataFile.objects.create(
        institution=southside,
        exam=exam,
        capture_uuid=uuid.uuid4(),
        state=RawDataFile.State.DONE,
        file=raw_name,
        size=100,
    )
    DicomExport.objects.create(
        institution=southside, exam=exam, state=DicomExport.State.DONE, file=dicom_name, size=200
    )
    call_command("purge_media", stdout=io.StringIO())
    assert not storage.exists(raw_name) and not storage.exists(dicom_name)
    assert not RawDataFile.objects.exists() and not DicomExport.objects.exists()
    row = MediaPurge.objects.get()
    assert row.research_files_deleted == 2
    assert row.bytes_deleted == len(build.MEDIA) + 300
    event = AuditEvent.objects.get(action="purge_media")
    assert event.detail["research_files"] == 2
