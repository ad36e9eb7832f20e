""" "Assign to me": a reviewer or an admin takes an exam for review."""

import pytest
from django.urls import reverse

from portal.exams.models import Exam


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_it_assigns_the_exam_to_a_reviewer_or_admin(login, exams, users, viewer):
    exam = exams["north"]
    response = login(viewer).post(reverse("exam-assign", args=[exam.pk]))
    assert response.status_code == 302
    assert response.url == reverse("exam-detail", args=[exam.pk])
    exam.refresh_from_db()
    assert (exam.reviewer, exam.review_state) == (users[viewer], "in_review")


def test_it_sends_the_worklist_back_where_it_came_from(login, exams):
    exam = exams["north"]
    response = login("bob").post(reverse("exam-assign", args=[exam.pk]), {"next": "/?tab=mine"})
    assert response.url == "/?tab=mine"


def test_it_never_redirects_to_another_site(login, exams):
    exam = exams["north"]
    url = reverse("exam-assign", args=[exam.pk])
    response = login("bob").post(url, {"next": "https://evil.example/"})
    assert response.url == reverse("exam-detail", args=[exam.pk])


def test_it_keeps_the_review_state_of_a_signed_exam(login, exams, users):
    exam = exams["north"]
    Exam.objects.filter(pk=exam.pk).update(review_state="signed", reviewer=users["alice"])
    login("bob").post(reverse("exam-assign", args=[exam.pk]))
    exam.refresh_from_db()
    assert (exam.reviewer, exam.review_state) == (users["bob"], "signed")


def test_it_refuses_a_clinician_with_403(login, exams):
    exam = exams["alice_south"]
    response = login("alice", "southside").post(reverse("exam-assign", args=[exam.pk]))
    assert response.status_code == 403
    exam.refresh_from_db()
    assert exam.reviewer is None


def test_it_answers_404_to_charlie(login, exams):
    response = login("charlie").post(reverse("exam-assign", args=[exams["north"].pk]))
    assert response.status_code == 404


def test_it_accepts_only_post(login, exams):
    response = login("bob").get(reverse("exam-assign", args=[exams["north"].pk]))
    assert response.status_code == 405
