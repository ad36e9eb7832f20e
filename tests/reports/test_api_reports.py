"""POST /api/v1/exams/<id>/reports/: upload a PDF or generate one; either is pushed."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from portal import storage
from portal.reports import issuing
from portal.reports.models import Report
from tests.api.problems import field_error, problem
from tests.reports.conftest import built, sign

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def pdf_file(data=PDF, name="outside.pdf"):
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def url(exam):
    return reverse("api-exam-reports", args=[exam.pk])


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: calls.append(a))
    return calls


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_it_takes_a_pdf_made_elsewhere_and_pushes_it(
    login, exams, users, viewer, queued, django_capture_on_commit_callbacks
):
    exam = exams["north"]
    with django_capture_on_commit_callbacks(execute=True):
        response = login(viewer).post(url(exam), {"name": "Cardiology read", "file": pdf_file()})
    assert response.status_code == 201
    report = Report.objects.get()
    assert response.json() == {"id": report.pk, "name": "Cardiology read", "state": "pending"}
    assert (report.source, report.version, report.created_by) == ("uploaded", 1, users[viewer])
    assert report.submission == exam.submissions.get()
    assert storage.local_file(report.file).read_bytes() == PDF
    assert report.size == len(PDF)
    assert queued == [("portal.reports.tasks.push_report", report.pk)]


def test_it_generates_the_pdf_from_signed_findings_when_given_a_name_alone(
    login, exams, users, queued, django_capture_on_commit_callbacks
):
    exam = exams["north"]
    sign(exam, users["bob"])
    with django_capture_on_commit_callbacks(execute=True):
        response = login("bob").post(url(exam), {"name": "Final report"})
    assert response.status_code == 201
    report = Report.objects.get(pk=response.json()["id"])
    assert (report.source, report.version, report.name) == ("generated", 2, "Final report")
    assert response.json()["state"] == report.state == "generating"
    assert queued[-1] == ("portal.reports.tasks.push_report", report.pk)
    # The worker makes the PDF (the task the queue was given).
    report = built(report)
    assert storage.local_file(report.file).read_bytes().startswith(b"%PDF-")


def test_it_accepts_json_for_a_name_alone(login, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    response = login("bob").post(url(exam), {"name": "Final"}, content_type="application/json")
    assert response.status_code == 201


def test_it_refuses_to_generate_from_unsigned_findings(login, exams):
    response = login("bob").post(url(exams["north"]), {"name": "Too early"})
    assert response.status_code == 400
    assert "not signed" in response.json()["detail"]
    assert not Report.objects.exists()


def test_it_refuses_a_file_that_is_not_a_pdf(login, exams):
    fake = pdf_file(b"<html>not a pdf</html>", "report.pdf")
    response = login("bob").post(url(exams["north"]), {"name": "Report", "file": fake})
    assert response.status_code == 400
    assert "not a PDF" in response.json()["detail"]
    assert not Report.objects.exists()


def test_it_refuses_an_oversized_file(login, exams, monkeypatch):
    monkeypatch.setattr(issuing, "MAX_UPLOAD_BYTES", 1024)
    big = pdf_file(PDF + b"0" * 1024)
    response = login("bob").post(url(exams["north"]), {"name": "Report", "file": big})
    assert response.status_code == 400
    assert "at most 1024 bytes" in response.json()["detail"]
    assert not Report.objects.exists()


def test_the_default_size_cap_is_20_mb():
    assert issuing.MAX_UPLOAD_BYTES == 20 * 1024 * 1024


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_it_refuses_a_missing_or_overlong_name(login, exams, name):
    response = login("bob").post(url(exams["north"]), {"name": name, "file": pdf_file()})
    assert field_error(response, "name")
    assert not Report.objects.exists()


def test_it_numbers_versions_after_the_existing_ones(login, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    client = login("bob")
    client.post(url(exam), {"name": "A", "file": pdf_file()})
    client.post(url(exam), {"name": "B", "file": pdf_file()})
    assert list(Report.objects.order_by("version").values_list("version", "name"))[1:] == [
        (2, "A"),
        (3, "B"),
    ]


def test_it_refuses_a_clinician_with_403(login, exams):
    exam = exams["alice_south"]
    response = login("alice", "southside").post(url(exam), {"name": "R", "file": pdf_file()})
    assert response.status_code == 403
    assert not Report.objects.exists()


@pytest.mark.parametrize("owner", ["alice_south", "charlie_south"])
def test_it_answers_404_for_another_institutions_exam(login, exams, owner):
    response = login("bob").post(url(exams[owner]), {"name": "R", "file": pdf_file()})
    assert response.status_code == 404


def test_it_answers_404_to_charlie(login, exams):
    response = login("charlie").post(url(exams["north"]), {"name": "R", "file": pdf_file()})
    assert response.status_code == 404
    assert not Report.objects.exists()


def test_it_requires_the_csrf_token_with_a_session(exams, users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["bob"])
    response = client.post(url(exams["north"]), {"name": "R", "file": pdf_file()})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Report.objects.exists()


def test_it_accepts_an_api_key_without_csrf(exams, users):
    from tests.api.keyring import key_for

    client = Client(enforce_csrf_checks=True)
    response = client.post(
        url(exams["north"]),
        {"name": "R", "file": pdf_file()},
        headers={"Authorization": f"Bearer {key_for(users['bob'], scope='write')}"},
    )
    assert response.status_code == 201


def test_it_refuses_anonymous_requests(client, exams):
    response = client.post(url(exams["north"]), {"name": "R", "file": pdf_file()})
    assert response.status_code in (401, 403)
    assert not Report.objects.exists()


def test_the_read_api_lists_the_reports(login, exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"])
    data = login("bob").get(reverse("api-exam-detail", args=[exam.pk])).json()
    assert data["reports"] == [{"id": report.pk, "name": report.name, "state": "pending"}]


# Hostile requests: a 4xx with the reason, never a 5xx, and no row or file left behind.


def stored_files(media_root):
    """The files under any exam's reports folder."""
    return sorted(p.name for p in media_root.glob("*/*/reports/*"))


def test_it_refuses_an_empty_file(login, exams, media_root):
    response = login("bob").post(url(exams["north"]), {"name": "R", "file": pdf_file(b"")})
    assert response.status_code == 400
    assert "empty" in response.json()["detail"]
    assert not Report.objects.exists() and stored_files(media_root) == []


def test_it_refuses_a_declared_body_over_the_cap_before_reading_it(login, exams, media_root):
    client = login("bob")
    response = client.post(
        url(exams["north"]), {"name": "R", "file": pdf_file()}, CONTENT_LENGTH=str(10**12)
    )
    assert response.status_code == 413
    assert "at most 20971520 bytes" in response.json()["detail"]
    assert not Report.objects.exists() and stored_files(media_root) == []


def test_it_takes_a_large_pdf_whose_name_has_a_very_long_extension(login, exams):
    # Spooled to a temporary file (over 2.5 MB), which Django would name after the
    # extension: "File name too long", a 500, before the name was ours to choose.
    big = pdf_file(PDF + b"0" * (3 * 1024 * 1024), "report." + "é" * 250)
    response = login("bob").post(url(exams["north"]), {"name": "Big", "file": big})
    assert response.status_code == 201
    report = Report.objects.get()
    assert report.size == len(PDF) + 3 * 1024 * 1024


@pytest.mark.parametrize(
    "name",
    ["a\x00b.pdf", "\u202efdp.exe", "con\x1b[31m.pdf", "../../etc/passwd", "x" * 5000 + ".pdf"],
)
def test_it_takes_a_pdf_whatever_its_file_name(login, exams, name, media_root):
    response = login("bob").post(url(exams["north"]), {"name": "R", "file": pdf_file(name=name)})
    assert response.status_code == 201
    report = Report.objects.get()
    assert storage.local_file(report.file).read_bytes() == PDF
    assert report.file.startswith(f"{report.institution_id}/{report.exam.exam_uuid}/reports/")


def test_it_cleans_control_and_bidi_characters_out_of_the_report_name(login, exams):
    name = "Cardio\x00logy\u202e read\x1b"
    response = login("bob").post(url(exams["north"]), {"name": name, "file": pdf_file()})
    assert response.status_code == 201
    assert Report.objects.get().name == "Cardiology read"


def test_it_refuses_a_name_of_control_characters_alone(login, exams):
    response = login("bob").post(url(exams["north"]), {"name": "\x00\u202e", "file": pdf_file()})
    assert field_error(response, "name") == "A report needs a name."


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[1, 2]", "JSON object"),
        ('{"name": ["R"]}', "must be text"),
        ('{"name": 12}', "must be text"),
        ('{"name": "R", "file": "JVBERi0xLjQ="}', "multipart file part"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ('{"name": "R"', "JSON parse error"),
        ('{"name": "\\ud800\\u0000"}', "needs a name"),
    ],
)
def test_it_answers_a_malformed_json_body_with_400_and_the_reason(login, exams, body, reason):
    client = login("bob")
    response = client.post(url(exams["north"]), body, content_type="application/json")
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not Report.objects.exists()


def test_a_failure_after_the_file_is_placed_leaves_neither_row_nor_file(
    login, exams, monkeypatch, media_root
):
    def fail(*args, **kwargs):
        raise issuing.ReportRefused("stopped on purpose")

    monkeypatch.setattr(issuing.work, "schedule_now", fail)
    response = login("bob").post(url(exams["north"]), {"name": "R", "file": pdf_file()})
    assert response.status_code == 400
    assert not Report.objects.exists() and stored_files(media_root) == []


def test_it_answers_a_form_field_over_djangos_memory_limit_with_json_413(login, exams):
    # A file part without a filename is read as a form field: past Django's in-memory
    # limit that raised RequestDataTooBig, which became Django's HTML 400 page.
    from tests.hostile.test_report_upload import multipart

    body, body_type = multipart(b"R", b"", b"%PDF-1.4\n" + b"0" * 2_700_000, b"application/pdf")
    client = login("bob")
    response = client.post(url(exams["north"]), body, content_type=body_type)
    body = problem(response, 413)
    assert body["detail"] == "The request body is larger than the portal accepts."
    assert not Report.objects.filter(exam=exams["north"]).exists()
