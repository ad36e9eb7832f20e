"""reports.json: what the exam page polls to follow a report on its way to Clarius."""

import pytest
from django.urls import reverse

from portal.reports.models import Report
from tests.factories import mark_delivered
from tests.reports.conftest import sign


def test_it_lists_the_reports_with_their_push_state(login, exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"])
    data = login("bob").get(reverse("exam-reports-json", args=[exam.pk])).json()
    assert data["pending"] is True
    assert (data["review_state"], data["review_state_label"]) == ("signed", "Signed")
    [row] = data["reports"]
    assert row["id"] == report.pk and row["version"] == 1 and row["name"] == report.name
    assert (row["state"], row["state_label"]) == ("pending", "Sending to Clarius")
    assert (row["last_error"], row["can_retry"]) == ("", False)


def test_it_follows_the_report_until_it_is_pushed(login, exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"])
    client = login("bob")
    mark_delivered(report)
    data = client.get(reverse("exam-reports-json", args=[exam.pk])).json()
    assert data["pending"] is False
    assert data["reports"][0]["state"] == "pushed"
    assert data["review_state"] == "reported"


def test_it_shows_the_last_error_and_offers_a_retry_once_failed(login, exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"])
    Report.objects.filter(pk=report.pk).update(state="failed", last_error="HTTP 503")
    row = login("bob").get(reverse("exam-reports-json", args=[exam.pk])).json()["reports"][0]
    assert (row["state"], row["last_error"], row["can_retry"]) == ("failed", "HTTP 503", True)


def test_it_is_never_cached(login, exams):
    response = login("bob").get(reverse("exam-reports-json", args=[exams["north"].pk]))
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("viewer", "institution", "exam", "status"),
    [
        ("alice", None, "north", 200),
        ("charlie", None, "north", 404),
        ("alice", "southside", "alice_south", 200),
        ("alice", "southside", "charlie_south", 404),
    ],
)
def test_it_answers_only_who_may_see_the_exam(login, exams, viewer, institution, exam, status):
    response = login(viewer, institution).get(reverse("exam-reports-json", args=[exams[exam].pk]))
    assert response.status_code == status
