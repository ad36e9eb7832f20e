"""Addenda: after signing, each addendum is signed when written and makes a new version."""

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.exams.models import Exam
from portal.reports.models import Addendum, Findings, Report
from tests.reports.conftest import FINDINGS, sign


@pytest.fixture
def signed(exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    return exam


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_it_adds_a_signed_addendum_and_a_new_report_version(login, signed, users, viewer):
    url = reverse("exam-addendum", args=[signed.pk])
    response = login(viewer).post(url, {"text": "The duct measures 4 mm."})
    assert response.status_code == 302
    addendum = Addendum.objects.get(exam=signed)
    assert (addendum.number, addendum.text, addendum.signed_by) == (
        1,
        "The duct measures 4 mm.",
        users[viewer],
    )
    assert addendum.institution == signed.institution
    newest = Report.objects.filter(exam=signed).order_by("-version").first()
    day = timezone.localdate(addendum.signed_at).isoformat()
    assert (newest.version, newest.name) == (2, f"Ultrasound report — addendum 1, {day}")
    assert (newest.state, newest.addenda_included) == ("generating", 1)


def test_it_numbers_addenda_and_versions_in_order(login, signed):
    client = login("bob")
    for text in ["First.", "Second."]:
        client.post(reverse("exam-addendum", args=[signed.pk]), {"text": text})
    assert list(Addendum.objects.values_list("number", "text")) == [(1, "First."), (2, "Second.")]
    names = list(Report.objects.order_by("version").values_list("version", "name"))
    assert [v for v, _ in names] == [1, 2, 3]
    assert "addendum 2" in names[2][1]


def test_it_leaves_the_signed_findings_untouched(login, signed, users):
    before = Findings.objects.get(exam=signed)
    login("alice").post(reverse("exam-addendum", args=[signed.pk]), {"text": "More."})
    after = Findings.objects.get(exam=signed)
    assert (after.impression, after.signed_by, after.signed_at) == (
        before.impression,
        before.signed_by,
        before.signed_at,
    )


def test_it_moves_a_reported_exam_back_to_signed_until_the_new_version_arrives(login, signed):
    Exam.objects.filter(pk=signed.pk).update(review_state="reported")
    login("bob").post(reverse("exam-addendum", args=[signed.pk]), {"text": "More."})
    signed.refresh_from_db()
    assert signed.review_state == "signed"


def test_it_refuses_an_addendum_before_signing(login, exams):
    exam = exams["north"]
    login("bob").post(reverse("exam-findings", args=[exam.pk]), FINDINGS)
    url = reverse("exam-addendum", args=[exam.pk])
    response = login("bob").post(url, {"text": "Early."}, follow=True)
    assert "not signed yet" in response.content.decode()
    assert not Addendum.objects.exists() and not Report.objects.exists()


def test_it_refuses_an_empty_addendum(login, signed):
    response = login("bob").post(reverse("exam-addendum", args=[signed.pk]), {"text": ""})
    assert response.status_code == 400
    assert not Addendum.objects.exists()


def test_it_shows_the_addenda_history_on_the_page(login, signed):
    client = login("bob")
    client.post(reverse("exam-addendum", args=[signed.pk]), {"text": "First note."})
    client.post(reverse("exam-addendum", args=[signed.pk]), {"text": "Second note."})
    page = client.get(reverse("exam-detail", args=[signed.pk])).content.decode()
    assert page.index("Addendum 1") < page.index("First note.") < page.index("Second note.")


def test_it_refuses_a_clinician_with_403(login, exams, users):
    exam = exams["alice_south"]
    sign(exam, users["charlie"])
    url = reverse("exam-addendum", args=[exam.pk])
    response = login("alice", "southside").post(url, {"text": "Mine."})
    assert response.status_code == 403
    assert not Addendum.objects.exists()


def test_it_answers_404_to_charlie(login, signed):
    response = login("charlie").post(reverse("exam-addendum", args=[signed.pk]), {"text": "x"})
    assert response.status_code == 404
    assert not Addendum.objects.exists()
