"""The exam page: who sees it, what each role sees on it, and the audit of every view."""

import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent, Capture
from portal.reports.models import Findings
from tests.reports.conftest import sign

# (viewer, working in, exam) -> status
MATRIX = [
    ("alice", None, "north", 200),
    ("bob", None, "north", 200),
    ("charlie", None, "north", 404),
    ("alice", "southside", "north", 404),
    ("alice", "southside", "alice_south", 200),
    ("alice", "southside", "charlie_south", 404),  # a clinician sees only her own exams
    ("charlie", None, "alice_south", 200),
    ("bob", None, "charlie_south", 404),
]


@pytest.mark.parametrize(("viewer", "institution", "exam", "status"), MATRIX)
def test_it_shows_the_exam_only_to_who_may_see_it(login, exams, viewer, institution, exam, status):
    client = login(viewer, institution)
    response = client.get(reverse("exam-detail", args=[exams[exam].pk]))
    assert response.status_code == status


def test_it_sends_anonymous_visitors_to_the_login_page(client, exams):
    response = client.get(reverse("exam-detail", args=[exams["north"].pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_shows_the_patient_submissions_and_captures(login, exams):
    exam = exams["north"]
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Nora North" in page
    assert f"MRN-{exam.pk}" in page
    assert str(exam.submissions.get().request_uuid) in page
    for capture in exam.captures.all():
        assert reverse("exam-capture", args=[exam.pk, capture.pk]) in page
    assert 'src="/static/js/exam.js"' in page


def test_it_shows_an_animal_patients_own_fields(login, exams):
    exam = exams["north"]
    patient = exam.patient
    patient.first_name = patient.last_name = ""
    patient.animal_name, patient.animal_type, patient.owner_name = "Rex", "Canine", "Ola Owner"
    patient.save()
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Rex" in page and "Canine" in page and "Ola Owner" in page
    assert "Species" in page and "Owner" in page


def test_it_plays_clips_in_a_looping_video_element(login, exams):
    exam = exams["north"]
    clip = exam.captures.last()
    Capture.objects.filter(pk=clip.pk).update(content_type="video/mp4", thumbnail="x.thumb.jpg")
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    media = reverse("exam-capture", args=[exam.pk, clip.pk])
    thumbnail = reverse("exam-capture-thumbnail", args=[exam.pk, clip.pk])
    assert f'<video controls loop preload="metadata" src="{media}" poster="{thumbnail}">' in page


def test_it_shows_captures_still_downloading(login, exams):
    exam = exams["north"]
    exam.captures.filter(position=1).update(state=Capture.State.PENDING)
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Downloading from Clarius" in page


def test_it_writes_a_view_exam_audit_event(login, exams, users):
    exam = exams["north"]
    login("bob").get(reverse("exam-detail", args=[exam.pk]))
    event = AuditEvent.objects.get(action=AuditEvent.Action.VIEW_EXAM)
    assert (event.user, event.institution, event.object_type) == (
        users["bob"],
        exam.institution,
        "exam",
    )
    assert event.object_id == str(exam.pk)


def test_it_audits_nothing_for_a_stranger(login, exams):
    login("charlie").get(reverse("exam-detail", args=[exams["north"].pk]))
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_it_gives_reviewers_and_admins_the_worksheet(login, exams, viewer):
    page = login(viewer).get(reverse("exam-detail", args=[exams["north"].pk])).content.decode()
    assert reverse("exam-findings", args=[exams["north"].pk]) in page
    assert reverse("exam-sign", args=[exams["north"].pk]) in page
    assert "Assign to me" in page


def test_it_gives_a_clinician_no_worksheet_and_hides_the_draft(login, exams, users):
    exam = exams["alice_south"]
    Findings.objects.create(
        institution=exam.institution, exam=exam, impression="Draft thoughts", clinician_feedback="x"
    )
    page = login("alice", "southside").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert reverse("exam-findings", args=[exam.pk]) not in page
    assert "Draft thoughts" not in page
    assert "not signed yet" in page
    assert "Assign to me" not in page


def test_it_shows_a_clinician_the_signed_findings_and_the_feedback(login, exams, users):
    exam = exams["alice_south"]
    sign(exam, users["charlie"], clinician_feedback="Tilt the probe less.")
    page = login("alice", "southside").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Cholelithiasis without cholecystitis." in page
    assert "Tilt the probe less." in page
    assert "4 / 5" in page
    assert "Signed by Charlie Stranger" in page
    assert reverse("exam-addendum", args=[exam.pk]) not in page
    assert reverse("report-retry", args=[exam.pk, exam.reports.get().pk]) not in page


def test_it_shows_signed_findings_read_only_with_the_addendum_form(login, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    page = login("alice").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert reverse("exam-findings", args=[exam.pk]) not in page
    assert reverse("exam-addendum", args=[exam.pk]) in page
    assert "Cholelithiasis without cholecystitis." in page


def test_it_lists_reports_with_their_state_error_and_retry(login, exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"])
    report.state, report.last_error = "failed", "HTTP 503 from Clarius: try later"
    report.save()
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert report.name in page
    assert "Failed" in page
    assert "HTTP 503 from Clarius: try later" in page
    retry = reverse("report-retry", args=[exam.pk, report.pk])
    assert f'action="{retry}" data-field="retry">' in page  # shown, not hidden
    assert reverse("report-download", args=[exam.pk, report.pk]) in page
