"""Downloading a report PDF from the exam page: tenant-scoped, role-scoped, audited."""

import pytest
from django.urls import reverse

from portal import storage
from portal.exams.models import AuditEvent
from portal.storage import content_disposition
from tests.reports.conftest import sign


@pytest.fixture
def reports(exams, users):
    return {
        "north": sign(exams["north"], users["bob"]),
        "alice_south": sign(exams["alice_south"], users["charlie"]),
        "charlie_south": sign(exams["charlie_south"], users["charlie"]),
    }


MATRIX = [
    ("alice", None, "north", 200),
    ("bob", None, "north", 200),
    ("charlie", None, "north", 404),
    ("alice", "southside", "alice_south", 200),  # a clinician reads her own exam's report
    ("alice", "southside", "charlie_south", 404),
    ("charlie", None, "alice_south", 200),
]


@pytest.mark.parametrize(("viewer", "institution", "exam", "status"), MATRIX)
def test_it_serves_the_pdf_only_to_who_may_see_the_exam(
    login, exams, reports, viewer, institution, exam, status
):
    report = reports[exam]
    url = reverse("report-download", args=[exams[exam].pk, report.pk])
    response = login(viewer, institution).get(url)
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == content_disposition(report.filename, "attachment")
        assert "no-store" in response["Cache-Control"]
        body = b"".join(response.streaming_content)
        assert body == storage.read_bytes(report.file)


def test_it_audits_each_download(login, exams, reports, users):
    report = reports["north"]
    login("alice").get(reverse("report-download", args=[exams["north"].pk, report.pk]))
    event = AuditEvent.objects.get(action=AuditEvent.Action.DOWNLOAD_REPORT)
    assert (event.user, event.institution) == (users["alice"], exams["north"].institution)
    assert (event.object_type, event.object_id) == ("report", str(report.pk))
    assert event.detail == {"version": 1}


def test_it_refuses_a_report_under_another_exams_url(login, exams, reports):
    url = reverse("report-download", args=[exams["charlie_south"].pk, reports["alice_south"].pk])
    assert login("charlie").get(url).status_code == 404
    assert not AuditEvent.objects.exists()


def test_it_sends_anonymous_visitors_to_the_login_page(client, exams, reports):
    url = reverse("report-download", args=[exams["north"].pk, reports["north"].pk])
    assert client.get(url).status_code == 302
