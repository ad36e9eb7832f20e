"""Capture media and thumbnails on the exam page: authorised, audited, private."""

import pytest
from django.urls import reverse

from portal import storage
from portal.exams import media
from portal.exams.models import AuditEvent, Capture
from tests.factories import PNG

JPEG_BYTES = b"\xff\xd8\xff\xe0 a thumbnail"


def add_thumbnail(capture):
    capture.thumbnail = media.thumbnail_relpath(capture)
    storage.local_file(capture.thumbnail).write_bytes(JPEG_BYTES)
    capture.save()


MATRIX = [
    ("alice", None, "north", 200),
    ("bob", None, "north", 200),
    ("charlie", None, "north", 404),
    ("alice", "southside", "alice_south", 200),
    ("alice", "southside", "charlie_south", 404),
]


@pytest.mark.parametrize(("viewer", "institution", "exam", "status"), MATRIX)
def test_it_serves_a_capture_only_to_who_may_see_the_exam(
    login, exams, viewer, institution, exam, status
):
    capture = exams[exam].captures.first()
    client = login(viewer, institution)
    response = client.get(reverse("exam-capture", args=[exams[exam].pk, capture.pk]))
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content) == PNG
        assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(("viewer", "institution", "exam", "status"), MATRIX)
def test_it_serves_a_thumbnail_only_to_who_may_see_the_exam(
    login, exams, viewer, institution, exam, status
):
    capture = exams[exam].captures.first()
    add_thumbnail(capture)
    client = login(viewer, institution)
    url = reverse("exam-capture-thumbnail", args=[exams[exam].pk, capture.pk])
    response = client.get(url)
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content) == JPEG_BYTES


def test_it_refuses_a_capture_of_another_exam_under_this_exams_url(login, exams):
    other = exams["alice_south"].captures.get()
    response = login("bob").get(reverse("exam-capture", args=[exams["north"].pk, other.pk]))
    assert response.status_code == 404


def test_it_refuses_a_capture_that_is_not_downloaded_yet(login, exams):
    capture = exams["north"].captures.first()
    Capture.objects.filter(pk=capture.pk).update(state=Capture.State.PENDING)
    response = login("bob").get(reverse("exam-capture", args=[exams["north"].pk, capture.pk]))
    assert response.status_code == 404


def test_it_answers_404_for_a_capture_without_a_thumbnail(login, exams):
    capture = exams["north"].captures.first()
    url = reverse("exam-capture-thumbnail", args=[exams["north"].pk, capture.pk])
    assert login("bob").get(url).status_code == 404


def test_it_audits_an_opened_capture_but_not_its_thumbnail(login, exams, users):
    """The exam page's view is the event; its thumbnails are not one each."""
    exam = exams["north"]
    capture = exam.captures.first()
    add_thumbnail(capture)
    client = login("bob")
    assert (
        client.get(reverse("exam-capture-thumbnail", args=[exam.pk, capture.pk])).status_code == 200
    )
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.OPEN_MEDIA).exists()
    client.get(reverse("exam-capture", args=[exam.pk, capture.pk]))
    events = AuditEvent.objects.filter(action=AuditEvent.Action.OPEN_MEDIA)
    assert [(e.user, e.object_type, e.object_id) for e in events] == [
        (users["bob"], "capture", str(capture.pk))
    ]
    assert events[0].detail == {"via": "exam_page"}


def test_a_clip_read_in_range_requests_is_one_event(login, exams, users):
    exam = exams["north"]
    capture = exam.captures.first()
    client = login("bob")
    url = reverse("exam-capture", args=[exam.pk, capture.pk])
    client.get(url, HTTP_RANGE="bytes=0-")
    client.get(url, HTTP_RANGE="bytes=2-")
    client.get(url)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.OPEN_MEDIA).count() == 1
    # Another reader's open is theirs to account for.
    login("alice").get(url)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.OPEN_MEDIA).count() == 2


def test_a_thumbnail_still_checks_the_tenant_rule_on_every_request(login, exams):
    capture = exams["north"].captures.first()
    add_thumbnail(capture)
    url = reverse("exam-capture-thumbnail", args=[exams["north"].pk, capture.pk])
    assert login("charlie").get(url).status_code == 404


def test_it_sends_anonymous_visitors_to_the_login_page(client, exams):
    capture = exams["north"].captures.first()
    response = client.get(reverse("exam-capture", args=[exams["north"].pk, capture.pk]))
    assert response.status_code == 302
