"""The clinical report PDF: what a chart needs, read back from the PDF's text."""

import re
import time
from datetime import date

import pytest
from django.utils import timezone

from portal import storage
from portal.exams.models import Patient
from portal.reports.pdf import LocalOnlyFetcher, age_at
from tests.reports.pdf_helpers import (
    FIELDS,
    addendum,
    draw,
    flat,
    images_in,
    jpeg_captures,
    lung,
    signed,
)


@pytest.fixture
def signer(users):
    """bob, with his credentials."""
    bob = users["bob"]
    bob.credentials = "MD, RDMS"
    bob.save()
    return bob


def test_it_holds_what_the_chart_needs(exams, signer, tmp_path):
    exam = exams["north"]
    exam.first_submitted_at = timezone.make_aware(
        timezone.datetime(2026, 3, 1, 10, 0), timezone.get_fixed_timezone(0)
    )
    exam.save()
    Patient.objects.filter(exam=exam).update(
        date_of_birth=date(1980, 6, 15),
        gender="Female",
        extra={
            "accession_number": "ACC-778",
            "referring_physician": "Dr Rhea Referrer",
            "weight_kg": 61.5,
        },
    )
    signed(exam, signer, views_obtained="Gallbladder long and transverse.")
    reader, text = draw(exam, tmp_path / "r.pdf")
    text = flat(text)
    submission = exam.submissions.get()
    for expected in [
        "Northside Clinic",
        "Ultrasound report",
        "Nora North",
        f"MRN-{exam.pk}",
        "1980-06-15 (age 45 years at the exam)",
        "Female",
        "Exam type Not specified",
        "Accession number ACC-778",
        "Referring physician Dr Rhea Referrer",
        "Weight 61.5 kg",
        "Operator Bob Reviewer, MD, RDMS",
        str(exam.exam_uuid),
        str(submission.request_uuid),
        FIELDS["indication"],
        "Views obtained Gallbladder long and transverse.",  # a worksheet without template
        "Multiple mobile echogenic foci with posterior shadowing.",
        "Interpretation " + FIELDS["impression"],
        "Signed by Bob Reviewer, MD, RDMS on 2026-03-04",
        "Report version 1",
    ]:
        assert expected in text, expected
    assert reader.metadata.title == "Ultrasound report — Northside Clinic"
    assert reader.metadata.author == "Bob Reviewer, MD, RDMS"
    assert "bob@example.org" not in text
    assert "AMENDED" not in text and "PRELIMINARY" not in text


def test_the_qa_score_and_the_feedback_stay_in_the_portal(exams, signer, tmp_path):
    exam = exams["north"]
    signed(exam, signer)
    _, text = draw(exam, tmp_path / "r.pdf")
    text = flat(text)
    assert "Good sweep" not in text and FIELDS["clinician_feedback"] not in text
    assert "quality" not in text.lower() and "4 / 5" not in text
    assert "feedback" not in text.lower()


def test_the_scan_time_is_in_the_institutions_zone_with_its_exam_type(exams, signer, tmp_path):
    exam = exams["north"]
    institution = exam.institution
    institution.time_zone = "Asia/Tokyo"
    institution.save()
    exam_type, _ = lung(institution)
    exam.exam_type = exam_type
    exam.first_submitted_at = timezone.make_aware(
        timezone.datetime(2026, 5, 1, 23, 15), timezone.get_fixed_timezone(0)
    )
    exam.save()
    signed(exam, signer)
    _, text = draw(exam, tmp_path / "r.pdf")
    text = flat(text)
    assert "Scanned 2026-05-02 08:15 JST" in text  # 23:15 UTC is the next morning in Tokyo
    assert f"Exam type {exam_type.name}" in text
    assert "Signed by Bob Reviewer, MD, RDMS on 2026-03-04 18:30 JST" in text
    if exam_type.cpt_codes:
        assert "CPT " + ", ".join(exam_type.cpt_codes) in text


@pytest.mark.parametrize(
    "birth, day, age",
    [
        (date(1980, 6, 15), date(2026, 6, 14), "45 years"),
        (date(1980, 6, 15), date(2026, 6, 15), "46 years"),
        (date(2025, 1, 31), date(2026, 3, 1), "13 months"),
        (date(2024, 3, 2), date(2026, 3, 1), "23 months"),
        (date(2026, 2, 20), date(2026, 3, 1), "9 days"),
        (date(2026, 3, 1), date(2026, 3, 1), "0 days"),
        (date(2026, 3, 2), date(2026, 3, 1), ""),
    ],
)
def test_age_at_the_exam(birth, day, age):
    assert age_at(birth, day) == age


def test_it_shows_the_worksheet_as_sections_answered_and_views(exams, signer, tmp_path):
    exam = exams["north"]
    exam_type, template = lung(exam.institution)
    sections = template.definition["sections"]
    section, first = next((s, f) for s in sections for f in s["fields"] if f["type"] == "choice")
    unanswered = [f["label"] for s in sections for f in s["fields"] if f["code"] != first["code"]]
    answer, shown = first["choices"][-1]
    views = template.definition["views"]
    required = [v for v in views if v.get("required")]
    optional = [v for v in views if not v.get("required")]
    recorded = {required[0]["code"]: {"not_obtained": "Patient could not sit up."}}
    for view in required[1:]:
        recorded[view["code"]] = "obtained"
    exam.exam_type = exam_type
    exam.save()
    signed(exam, signer, template=template, answers={first["code"]: answer}, views=recorded)
    _, text = draw(exam, tmp_path / "r.pdf")
    text = flat(text)
    assert f"{section['title']} {first['label']} {shown}" in text
    for label in unanswered:
        assert f"{label} " not in text.replace(f"{first['label']} {shown}", ""), label
    assert f"Views {required[0]['label']} Not obtained: Patient could not sit up." in text
    for view in required[1:]:
        assert f"{view['label']} Obtained" in text
    for view in optional:
        assert view["label"] not in text  # neither required nor recorded
    assert "Not recorded" not in text
    assert "Additional findings" in text


def test_it_includes_the_first_six_images_when_none_are_chosen(exams, signer, tmp_path):
    exam = exams["north"]
    for capture in exam.captures.all():  # the factory's two: missing files are left out
        storage.local_file(capture.file).unlink()
    jpeg_captures(exam, 8)
    signed(exam, signer)
    reader, text = draw(exam, tmp_path / "r.pdf")
    assert "Key images" in text
    assert images_in(reader) == 6
    assert "Image 3" in text and "Image 8" in text and "Image 9" not in text


def test_it_shows_the_images_the_reviewer_chose_with_their_captions(exams, signer, tmp_path):
    exam = exams["north"]
    captures = jpeg_captures(exam, 8)
    duplicate = captures[5]
    duplicate.duplicate_of = captures[4]
    duplicate.save()
    chosen = {
        str(captures[6].pk): "Pleural effusion, right base.",
        str(captures[1].pk): "B-lines <3 & A-lines",
        str(duplicate.pk): "A duplicate is never drawn.",
    }
    signed(exam, signer, key_images=chosen)
    reader, text = draw(exam, tmp_path / "r.pdf")
    text = flat(text)
    assert images_in(reader) == 2
    assert "Image 4 B-lines <3 & A-lines" in text
    # Numbered as the gallery numbers them: the duplicate before it takes no number.
    assert "Image 8 Pleural effusion, right base." in text
    assert text.index("Image 4") < text.index("Image 8")  # in capture order
    assert "A duplicate is never drawn." not in text


def test_it_leaves_out_pictures_it_cannot_read(exams, signer, tmp_path, caplog):
    exam = exams["north"]
    for capture in exam.captures.all():
        storage.local_file(capture.file).write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    signed(exam, signer)
    reader, text = draw(exam, tmp_path / "r.pdf")
    assert "Key images" not in text
    assert images_in(reader) == 0
    assert "unreadable; left out" in caplog.text


def test_an_amended_version_puts_its_addenda_first(exams, signer, users, tmp_path):
    exam = exams["north"]
    captures = jpeg_captures(exam, 6)
    signed(exam, signer)
    addendum(exam, users["alice"], 1, "Gallbladder wall re-measured: 2 mm.")
    addendum(exam, signer, 2, "Two late images show a small effusion.", captures[4:6])
    addendum(exam, signer, 3, "Not yet in version 3.")
    _, text = draw(exam, tmp_path / "r.pdf", version=3, addenda=2)
    text = flat(text)
    assert "Ultrasound report AMENDED" in text
    assert re.search(
        r"Addendum 1 Gallbladder wall re-measured: 2 mm\. "
        r"Signed by Alice Admin on 2026-03-05 \d\d:\d\d",
        text,
    )
    assert re.search(
        r"Addendum 2 Two late images show a small effusion\. Refers to images 7, 8 "
        r"Signed by Bob Reviewer, MD, RDMS on 2026-03-06",
        text,
    )
    assert "Not yet in version 3." not in text
    first, second = text.index("Addendum 1"), text.index("Addendum 2")
    assert first < second < text.index("Original report") < text.index(FIELDS["impression"])
    assert "Report version 3" in text


def test_the_first_version_has_no_addenda(exams, signer, users, tmp_path):
    exam = exams["north"]
    signed(exam, signer)
    addendum(exam, users["alice"], 1, "Later.")
    _, text = draw(exam, tmp_path / "r.pdf", addenda=0)
    assert "Addendum" not in text and "AMENDED" not in text and "Later." not in text


def test_a_trainees_report_is_preliminary_until_attested(exams, signer, users, tmp_path):
    exam = exams["north"]
    trainee = users["charlie"]
    trainee.full_name, trainee.credentials = "Charlie Trainee", "MBBS"
    trainee.save()
    signed(exam, trainee, signed_as_trainee=True)
    _, text = draw(exam, tmp_path / "p.pdf")
    text = flat(text)
    assert "Ultrasound report PRELIMINARY" in text
    assert "Preliminary interpretation by Charlie Trainee, MBBS on 2026-03-04" in text
    assert "Attested by" not in text

    statement = "I have reviewed the images and agree with the interpretation."
    signed(
        exam,
        trainee,
        signed_as_trainee=True,
        attested_by=signer,
        attested_at=timezone.now(),
        attestation_statement=statement,
    )
    _, text = draw(exam, tmp_path / "a.pdf")
    text = flat(text)
    assert "PRELIMINARY" not in text
    assert "Preliminary interpretation by Charlie Trainee, MBBS on" in text
    assert f"{statement} Attested by Bob Reviewer, MD, RDMS on " in text


def test_it_numbers_its_pages_and_names_the_patient_on_each(exams, signer, tmp_path):
    exam = exams["north"]
    signed(exam, signer, findings="A long finding.\n" * 150)
    reader, _ = draw(exam, tmp_path / "r.pdf")
    total = len(reader.pages)
    assert total >= 2
    for number, page in enumerate(reader.pages, start=1):
        footer = flat(page.extract_text())
        assert f"Page {number} of {total}" in footer
        assert "Northside Clinic · Nora North · report version 1" in footer


def test_an_animal_patient(exams, signer, tmp_path):
    exam = exams["north"]
    patient = exam.patient
    patient.first_name = patient.last_name = ""
    patient.animal_name, patient.animal_type, patient.owner_name = "Rex", "Canine", "Ola Owner"
    patient.date_of_birth = date(2019, 5, 1)
    patient.save()
    signed(exam, signer)
    _, text = draw(exam, tmp_path / "r.pdf")
    text = flat(text)
    for expected in ["Patient Rex", "Species Canine", "Owner Ola Owner", "2019-05-01 (age"]:
        assert expected in text, expected


def test_it_keeps_what_people_typed_literally(exams, signer, tmp_path):
    exam = exams["north"]
    exam.captures.all().delete()
    signed(exam, signer, impression='Size <5 mm & stable; no <b>mass</b>. <img src="http://x/">')
    reader, text = draw(exam, tmp_path / "r.pdf")
    assert 'Size <5 mm & stable; no <b>mass</b>. <img src="http://x/">' in text
    assert images_in(reader) == 0


def test_it_wraps_long_lines_and_cuts_a_word_wider_than_the_page(exams, signer, tmp_path):
    exam = exams["north"]
    signed(exam, signer, findings="shadowing " * 200 + "\n" + "x" * 3000)
    _, text = draw(exam, tmp_path / "r.pdf")
    lines = text.splitlines()
    assert max(len(line) for line in lines) < 200
    assert sum(line.count("x") for line in lines if set(line) == {"x"}) == 3000
    assert text.count("shadowing") == 200


def test_a_40000_character_word_costs_seconds_not_minutes(exams, signer, tmp_path):
    exam = exams["north"]
    signed(exam, signer, findings="y" * 40_000, impression="z" * 10_000)
    started = time.process_time()  # this process's CPU: other work on the machine aside
    reader, text = draw(exam, tmp_path / "r.pdf")
    # Cut only by "overflow-wrap: anywhere", the word took WeasyPrint over a minute (its
    # cost grows with the square of the word's length); with break opportunities, ~1 s.
    assert time.process_time() - started < 15
    assert text.count("y") >= 40_000 and len(reader.pages) >= 5


def test_it_keeps_line_breaks_blank_lines_and_indents(exams, signer, tmp_path):
    exam = exams["north"]
    signed(exam, signer, findings="Liver:\n\n\tnormal\nSpleen: normal")
    _, text = draw(exam, tmp_path / "r.pdf")
    assert re.search(r"Liver:\n.*normal\nSpleen: normal", text)


def test_the_same_content_gives_the_same_bytes(exams, signer, tmp_path):
    exam = exams["north"]
    jpeg_captures(exam, 2)
    signed(exam, signer)
    draw(exam, tmp_path / "a.pdf")
    draw(exam, tmp_path / "b.pdf")
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_the_fetcher_reads_only_the_files_it_was_given(tmp_path):
    allowed = tmp_path / "ok.txt"
    allowed.write_text("ok")
    other = tmp_path / "secret.txt"
    other.write_text("secret")
    fetcher = LocalOnlyFetcher({allowed.as_uri()})
    assert fetcher.fetch(allowed.as_uri()).read() == b"ok"
    assert fetcher.fetch("data:text/plain,hi").read() == b"hi"
    for url in [other.as_uri(), "http://127.0.0.1:1/x.png", "https://example.org/f.css"]:
        with pytest.raises(ValueError):
            fetcher.fetch(url)
