"""Capture media and thumbnails on the exam page: authorised, audited, private."""

import pytest
from django.urls import reverse

from portal.exams import media
from portal.exams.models import AuditEvent, Capture
from tests.factories import PNG

JPEG_BYTES = b"\xff\xd8\xff\xe0 a thumbnail"


def add_thumbnail(capture):
    capture.thumbnail = media.thumbnail_relpath(capture)
    media.absolute(capture.thumbnail).write_bytes(JPEG_BYTES)
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


def test_it_audits_every_opened_capture_and_thumbnail(login, exams, users):
    exam = exams["north"]
    capture = exam.captures.first()
    add_thumbnail(capture)
    client = login("bob")
    client.get(reverse("exam-capture", args=[exam.pk, capture.pk]))
    client.get(reverse("exam-capture-thumbnail", args=[exam.pk, capture.pk]))
    events = AuditEvent.objects.filter(action=AuditEvent.Action.OPEN_MEDIA).order_by("at")
    assert [(e.user, e.object_type, e.object_id) for e in events] == [
        (users["bob"], "capture", str(capture.pk))
    ] * 2
    assert events[1].detail == {"via": "exam_page", "variant": "thumbnail"}


def test_it_sends_anonymous_visitors_to_the_login_page(client, exams):
    capture = exams["north"].captures.first()
    response = client.get(reverse("exam-capture", args=[exams["north"].pk, capture.pk]))
    assert response.status_code == 302
