"""Names in the report PDF come without control or bidi characters."""

from django.utils import timezone
from pypdf import PdfReader

from portal.exams.models import Patient
from portal.reports.models import Findings
from portal.reports.pdf import render_report
from portal.text import storable
from tests.many_captures import HOSTILE_NAME, has_bidi


def test_the_pdf_draws_names_and_identifiers_without_controls(exams, users, tmp_path):
    exam = exams["north"]
    Patient.objects.filter(exam=exam).update(
        first_name=storable(HOSTILE_NAME), last_name="", identifier="\u202e321-NRM"
    )
    bob = users["bob"]
    bob.full_name = "\u202eBob\u2066 Reviewer"
    bob.save()
    Findings.objects.create(
        institution=exam.institution,
        exam=exam,
        impression="Normal study.",
        signed_by=bob,
        signed_at=timezone.now(),
    )
    exam.refresh_from_db()
    path = tmp_path / "report.pdf"
    render_report(path, exam=exam, submission=exam.submissions.get(), version=1)
    text = " ".join(page.extract_text() for page in PdfReader(path).pages)
    assert not has_bidi(text) and "\x00" not in text
    assert "Nora North Tab End" in text and "321-NRM" in text
    assert "Signed by Bob Reviewer on" in text
