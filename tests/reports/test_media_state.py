"""An exam's media in words (portal.exams.media_state), on the exam page and in the
media.json it polls while captures download: counts, why downloads failed, what happens
next by the one retry policy, giving up; tenancy and hostile ids."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal import work
from portal.exams.media_state import capture_text, exam_media_state
from portal.exams.models import Capture
from tests.reports.conftest import add_jpeg_captures

E503 = "GET https://media.clarius.test/… → HTTP 503: busy"


def pending(exam, count, **fields):
    """``count`` more captures of the exam, still to download (``fields``: their work)."""
    add_jpeg_captures(exam, count)
    ids = list(exam.captures.order_by("-pk").values_list("pk", flat=True)[:count])
    Capture.objects.filter(pk__in=ids).update(state="pending", file="", **fields)
    return ids


@pytest.fixture
def exam(exams):
    return exams["north"]  # two captures, downloaded


def test_all_downloaded_says_nothing(exam):
    state = exam_media_state(exam)
    assert (state.total, state.done, state.in_progress, state.lines) == (2, 2, False, [])


def test_it_counts_the_captures_still_coming(exam):
    pending(exam, 3, next_attempt_at=timezone.now())
    state = exam_media_state(exam)
    assert state.in_progress and state.tone == "working"
    assert state.lines == [("working", "3 of 5 captures still downloading from Clarius.")]


def test_it_says_why_downloads_failed_and_when_they_are_retried(exam):
    pending(exam, 1, next_attempt_at=timezone.now())
    pending(
        exam,
        2,
        attempts=1,
        last_error=E503,
        next_attempt_at=timezone.now() + timedelta(seconds=230),
    )
    state = exam_media_state(exam)
    assert state.tone == "retrying"
    assert state.lines == [
        ("working", "3 of 5 captures still downloading from Clarius."),
        (
            "retrying",
            "2 captures failed to download: Clarius answered with an error (HTTP 503); "
            f"retrying in 4 minutes, attempt 2 of {work.MAX_ATTEMPTS}.",
        ),
    ]


def test_it_says_when_it_gave_up(exam):
    [pk] = pending(exam, 1)
    Capture.objects.filter(pk=pk).update(
        state="failed",
        attempts=work.MAX_ATTEMPTS,
        next_attempt_at=None,
        last_error=E503,
        last_attempt_at=timezone.now(),
    )
    state = exam_media_state(exam)
    assert (state.tone, state.in_progress) == ("failed", False)
    assert state.lines == [
        (
            "failed",
            "1 capture could not be downloaded: Clarius answered with an error (HTTP 503). "
            f"Gave up after {work.MAX_ATTEMPTS} attempts.",
        )
    ]
    assert capture_text(Capture.objects.get(pk=pk)).startswith(
        "Could not be downloaded. Clarius answered with an error (HTTP 503). Gave up after"
    )


def test_the_exam_page_says_it_above_the_gallery_and_in_each_place(login, exam):
    pending(exam, 1, next_attempt_at=timezone.now())
    pending(
        exam,
        1,
        attempts=2,
        last_error="GET x: connection failed (ConnectionError)",
        next_attempt_at=timezone.now() + timedelta(seconds=50),
    )
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "2 of 4 captures still downloading from Clarius." in page
    assert "1 capture failed to download: Clarius could not be reached; retrying in" in page
    assert (
        f'data-media-url="{reverse("exam-media-json", args=[exam.pk])}" data-in-progress="1"'
        in page
    )
    assert "Downloading from Clarius…" in page
    assert (
        f"Clarius could not be reached; retrying in 50 seconds, attempt 3 of {work.MAX_ATTEMPTS}."
        in page
    )


def test_media_json_follows_the_captures_the_page_shows(login, exam):
    ids = pending(exam, 2, attempts=1, last_error=E503, next_attempt_at=timezone.now())
    url = reverse("exam-media-json", args=[exam.pk])
    data = login("bob").get(url, {"captures": ",".join(map(str, ids))}).json()
    assert data["in_progress"] is True and data["retrying"] == 2
    assert {c["id"] for c in data["captures"]} == set(ids)
    assert all(c["tone"] == "retrying" for c in data["captures"])
    assert data["captures"][0]["text"].startswith("Clarius answered with an error (HTTP 503)")
    Capture.objects.filter(pk=ids[0]).update(state="done")
    data = login("bob").get(url, {"captures": f"{ids[0]}"}, HTTP_X_PORTAL_BACKGROUND="1").json()
    assert data["captures"] == [{"id": ids[0], "state": "done", "tone": "done", "text": ""}]


@pytest.mark.parametrize(
    "captures",
    ["abc", "1,,2,x", "-1", "9" * 40, ",".join(["1"] * 5000), "١٢", "1;DROP TABLE"],
)
def test_media_json_ignores_what_is_not_an_id(login, exam, captures):
    response = login("bob").get(reverse("exam-media-json", args=[exam.pk]), {"captures": captures})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_media_json_never_tells_of_another_exams_capture(login, exams):
    other = exams["charlie_south"].captures.values_list("pk", flat=True)[0]
    data = (
        login("bob")
        .get(reverse("exam-media-json", args=[exams["north"].pk]), {"captures": str(other)})
        .json()
    )
    assert data["captures"] == []


@pytest.mark.parametrize(
    ("viewer", "institution", "exam", "status"),
    [
        ("alice", None, "north", 200),
        ("charlie", None, "north", 404),
        ("alice", "southside", "alice_south", 200),
        ("alice", "southside", "charlie_south", 404),
    ],
)
def test_media_json_answers_only_who_may_see_the_exam(
    login, exams, viewer, institution, exam, status
):
    response = login(viewer, institution).get(reverse("exam-media-json", args=[exams[exam].pk]))
    assert response.status_code == status


def test_media_json_wants_a_login(client, exam):
    response = client.get(reverse("exam-media-json", args=[exam.pk]))
    assert response.status_code == 302


def test_the_raw_error_of_a_capture_is_detail_for_staff_only(login, exams):
    for name, institution, exam in (("bob", None, "north"), ("alice", "southside", "alice_south")):
        pending(exams[exam], 1, attempts=1, last_error=E503, next_attempt_at=timezone.now())
        page = login(name, institution).get(reverse("exam-detail", args=[exams[exam].pk]))
        shown = "HTTP 503: busy" in page.content.decode()
        assert shown is (name == "bob"), name
        assert "Clarius answered with an error (HTTP 503)" in page.content.decode()
