"""Signing: locks the findings, stamps the exam, issues report version 1 and its push."""

import pytest
from django.urls import reverse
from django.utils import timezone

from portal import storage
from portal.exams.models import Exam
from portal.notifications.models import Email
from portal.reports.models import Findings, Report
from portal.reports.review import ReviewRefused, add_addendum, findings_of, sign_findings
from tests.reports.conftest import FINDINGS, sign, worksheet_post


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: calls.append(a))
    return calls


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_it_signs_the_worksheet_as_posted(
    login, exams, users, viewer, queued, django_capture_on_commit_callbacks
):
    exam = exams["north"]
    with django_capture_on_commit_callbacks(execute=True):
        response = login(viewer).post(reverse("exam-sign", args=[exam.pk]), worksheet_post(exam))
    assert response.status_code == 302
    assert response.url == reverse("exam-detail", args=[exam.pk]) + "#reports"

    findings = Findings.objects.get(exam=exam)
    assert findings.impression == FINDINGS["impression"]
    assert (findings.signed_by, findings.is_signed) == (users[viewer], True)
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.SIGNED
    assert exam.signed_at == findings.signed_at

    report = Report.objects.get(exam=exam)
    today = timezone.localdate(findings.signed_at).isoformat()
    assert report.name == f"Ultrasound report — signed {today}"
    assert (report.version, report.source, report.state) == (1, "generated", "generating")
    assert report.submission == exam.submissions.get()
    assert report.created_by == users[viewer]
    assert report.institution == exam.institution
    assert report.next_attempt_at is not None
    # The PDF is the worker's to make: the answer did not wait for it.
    assert not storage.local_file(report.file).exists()
    assert (report.size, report.sha256, report.has_pdf) == (None, "", False)
    # And the email telling bob, who performed the exam, that it was signed
    # (portal.notifications), unless he signed it himself.
    emails = Email.objects.filter(to="bob@example.org").values_list("pk", flat=True)
    told = [("portal.notifications.emails.send_email", pk) for pk in emails]
    assert len(told) == (1 if viewer == "alice" else 0)
    assert queued == [("portal.reports.tasks.push_report", report.pk), *told]


def test_it_signs_the_saved_draft_when_nothing_is_posted(login, exams, queued):
    exam = exams["north"]
    client = login("bob")
    client.post(reverse("exam-findings", args=[exam.pk]), worksheet_post(exam))
    client.post(reverse("exam-sign", args=[exam.pk]))
    assert Findings.objects.get(exam=exam).is_signed


def test_it_refuses_to_sign_without_an_impression(login, exams):
    exam = exams["north"]
    url = reverse("exam-sign", args=[exam.pk])
    response = login("bob").post(url, {**worksheet_post(exam), "impression": " "}, follow=True)
    assert "Write the interpretation (impression) before signing." in response.content.decode()
    assert not Report.objects.exists()
    exam.refresh_from_db()
    assert exam.review_state == "new" and exam.signed_at is None


def test_it_refuses_to_sign_twice(login, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    url = reverse("exam-sign", args=[exam.pk])
    response = login("alice").post(
        url, {**worksheet_post(exam), "impression": "Other."}, follow=True
    )
    assert "cannot change: add an addendum" in response.content.decode()
    findings = Findings.objects.get(exam=exam)
    assert (findings.signed_by, findings.impression) == (users["bob"], FINDINGS["impression"])
    assert Report.objects.count() == 1


def test_it_refuses_a_stale_copy_signed_meanwhile(exams, users):
    exam = exams["north"]
    stale = findings_of(exam)
    sign(exam, users["bob"])
    stale.impression = "Mine."
    with pytest.raises(ReviewRefused):
        sign_findings(stale, users["alice"])


def test_it_keeps_the_first_signature_time_on_the_exam(exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    exam.refresh_from_db()
    first = exam.signed_at
    add_addendum(exam, users["bob"], "More.")
    exam.refresh_from_db()
    assert exam.signed_at == first


def test_it_shows_invalid_input_with_a_400(login, exams):
    exam = exams["north"]
    url = reverse("exam-sign", args=[exam.pk])
    response = login("bob").post(url, {**worksheet_post(exam), "image_quality": "9"})
    assert response.status_code == 400
    assert not Findings.objects.exists()


def test_it_refuses_a_clinician_with_403(login, exams):
    exam = exams["alice_south"]
    response = login("alice", "southside").post(
        reverse("exam-sign", args=[exam.pk]), worksheet_post(exam)
    )
    assert response.status_code == 403
    assert not Findings.objects.exists()


def test_it_answers_404_to_charlie(login, exams):
    response = login("charlie").post(reverse("exam-sign", args=[exams["north"].pk]), FINDINGS)
    assert response.status_code == 404
    assert not Report.objects.exists()
