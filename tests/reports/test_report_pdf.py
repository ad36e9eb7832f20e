"""The report PDF: everything a reader of the report needs, read back from the PDF's text."""

import re
from datetime import date

from pypdf import PdfReader

from portal.exams import media
from portal.reports.review import add_addendum
from tests.reports.conftest import FINDINGS, add_jpeg_captures, built, sign


def pdf_text(report):
    reader = PdfReader(media.absolute(report.file))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def flat(text):
    return re.sub(r"\s+", " ", text)


def test_it_holds_the_institution_patient_ids_operator_and_findings(exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"])
    reader, text = pdf_text(report)
    text = flat(text)
    submission = exam.submissions.get()
    for expected in [
        "Northside Clinic",
        "Ultrasound report",
        "Nora North",
        f"MRN-{exam.pk}",
        str(exam.exam_uuid),
        str(submission.request_uuid),
        "Bob Reviewer (bob@example.org)",  # the operator, and the signer
        FINDINGS["indication"],
        FINDINGS["views_obtained"],
        "Multiple mobile echogenic foci with posterior shadowing.",
        "No wall thickening.",
        FINDINGS["impression"],
        "Quality assurance",
        "Image quality: 4 / 5",
        "Feedback to the clinician: " + FINDINGS["clinician_feedback"],
        "Signed by Bob Reviewer (bob@example.org) on",
        "Report version 1",
    ]:
        assert expected in text, expected
    assert reader.metadata.title == "Ultrasound report — Northside Clinic"


def test_it_numbers_its_pages(exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"], findings="A long finding.\n" * 120)
    reader, _ = pdf_text(report)
    total = len(reader.pages)
    assert total >= 2
    for number, page in enumerate(reader.pages, start=1):
        assert f"Page {number} of {total}" in page.extract_text()


def test_it_shows_an_animal_patient(exams, users):
    exam = exams["north"]
    patient = exam.patient
    patient.first_name = patient.last_name = ""
    patient.animal_name, patient.animal_type, patient.owner_name = "Rex", "Canine", "Ola Owner"
    patient.date_of_birth = date(2019, 5, 1)
    patient.save()
    _, text = pdf_text(sign(exam, users["bob"]))
    for expected in ["Rex", "Species", "Canine", "Owner", "Ola Owner", "2019-05-01"]:
        assert expected in text


def test_it_keeps_what_people_typed_literally(exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"], impression="Size <5 mm & stable; no <b>mass</b>.")
    _, text = pdf_text(report)
    assert "Size <5 mm & stable; no <b>mass</b>." in text


def test_it_includes_a_few_key_images(exams, users):
    exam = exams["north"]
    add_jpeg_captures(exam, 5)
    reader, text = pdf_text(sign(exam, users["bob"]))
    assert "Key images" in text
    assert sum(len(page.images) for page in reader.pages) == 4


def test_it_leaves_out_pictures_it_cannot_read(exams, users):
    exam = exams["north"]  # the factory's captures are not decodable images
    reader, text = pdf_text(sign(exam, users["bob"]))
    assert "Key images" not in text
    assert sum(len(page.images) for page in reader.pages) == 0


def test_it_adds_every_addendum_with_its_signer_to_new_versions(exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    add_addendum(exam, users["alice"], "Gallbladder wall re-measured: 2 mm.")
    _, report = add_addendum(exam, users["bob"], "Discussed with the referring physician.")
    _, text = pdf_text(built(report))
    text = flat(text)
    assert re.search(
        r"Addendum 1 Gallbladder wall re-measured: 2 mm\. "
        r"Signed by Alice Admin \(alice@example\.org\) on \d{4}-\d\d-\d\d",
        text,
    )
    assert re.search(
        r"Addendum 2 Discussed with the referring physician\. "
        r"Signed by Bob Reviewer \(bob@example\.org\) on",
        text,
    )
    assert "Report version 3" in text
    assert text.index("Addendum 1") < text.index("Addendum 2")


def test_the_first_version_has_no_addenda(exams, users):
    _, text = pdf_text(sign(exams["north"], users["bob"]))
    assert "Addendum" not in text


def test_it_wraps_a_long_line_and_cuts_a_word_wider_than_the_page(exams, users):
    words = "shadowing " * 200
    report = sign(exams["north"], users["bob"], findings=words + "\n" + "x" * 3000)
    _, text = pdf_text(report)
    lines = text.splitlines()
    assert max(len(line) for line in lines) < 200
    assert sum(line.count("x") for line in lines if set(line) == {"x"}) == 3000
    assert text.count("shadowing") == 200


def test_it_keeps_line_breaks_blank_lines_and_indents(exams, users):
    report = sign(exams["north"], users["bob"], findings="Liver:\n\n\tnormal\nSpleen: normal")
    _, text = pdf_text(report)
    assert re.search(r"Liver:\n.*normal\nSpleen: normal", text)
