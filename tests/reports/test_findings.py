"""The findings worksheet: reviewers and admins write drafts; nobody edits signed findings."""

import pytest
from django.urls import reverse

from portal.reports.models import Findings
from tests.reports.conftest import FINDINGS, sign


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_it_saves_a_draft_for_a_reviewer_or_admin(login, exams, users, viewer):
    exam = exams["north"]
    response = login(viewer).post(reverse("exam-findings", args=[exam.pk]), FINDINGS)
    assert response.status_code == 302
    assert response.url == reverse("exam-detail", args=[exam.pk]) + "#findings"
    findings = Findings.objects.get(exam=exam)
    assert findings.impression == FINDINGS["impression"]
    assert findings.image_quality == 4
    assert findings.institution == exam.institution
    assert findings.updated_by == users[viewer]
    assert findings.updated_at is not None
    assert not findings.is_signed


def test_it_starts_the_review_of_a_new_exam(login, exams, users):
    exam = exams["north"]
    login("bob").post(reverse("exam-findings", args=[exam.pk]), FINDINGS)
    exam.refresh_from_db()
    assert (exam.review_state, exam.reviewer) == ("in_review", users["bob"])


def test_it_updates_the_same_worksheet_on_each_save(login, exams):
    exam = exams["north"]
    client = login("bob")
    client.post(reverse("exam-findings", args=[exam.pk]), FINDINGS)
    client.post(reverse("exam-findings", args=[exam.pk]), {**FINDINGS, "impression": "Normal."})
    assert Findings.objects.get(exam=exam).impression == "Normal."


def test_it_allows_an_unrated_image_quality(login, exams):
    exam = exams["north"]
    login("bob").post(reverse("exam-findings", args=[exam.pk]), {**FINDINGS, "image_quality": ""})
    assert Findings.objects.get(exam=exam).image_quality is None


@pytest.mark.parametrize("quality", ["0", "6", "good"])
def test_it_refuses_an_image_quality_outside_1_to_5(login, exams, quality):
    exam = exams["north"]
    url = reverse("exam-findings", args=[exam.pk])
    response = login("bob").post(url, {**FINDINGS, "image_quality": quality})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Findings.objects.exists()


def test_it_refuses_changes_to_signed_findings(login, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    url = reverse("exam-findings", args=[exam.pk])
    response = login("alice").post(url, {**FINDINGS, "impression": "Changed my mind."}, follow=True)
    assert "cannot change: add an addendum" in response.content.decode()
    assert Findings.objects.get(exam=exam).impression == FINDINGS["impression"]


def test_it_refuses_a_clinician_with_403(login, exams):
    exam = exams["alice_south"]
    response = login("alice", "southside").post(reverse("exam-findings", args=[exam.pk]), FINDINGS)
    assert response.status_code == 403
    assert not Findings.objects.exists()


def test_it_answers_404_to_charlie(login, exams):
    response = login("charlie").post(reverse("exam-findings", args=[exams["north"].pk]), FINDINGS)
    assert response.status_code == 404
    assert not Findings.objects.exists()


def test_it_answers_404_to_a_clinician_for_an_exam_she_did_not_perform(login, exams):
    exam = exams["charlie_south"]
    response = login("alice", "southside").post(reverse("exam-findings", args=[exam.pk]), FINDINGS)
    assert response.status_code == 404
