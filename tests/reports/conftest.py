"""Exams for the review and report tests: one at Northside, two at Southside.

``exams["north"]`` was performed by bob at Northside (alice is its admin, bob a reviewer,
charlie a stranger). At Southside, ``exams["alice_south"]`` was performed by alice, who
is a clinician there, and ``exams["charlie_south"]`` by charlie.
"""

import io

import pytest
from django.urls import reverse
from PIL import Image

from portal import storage, work
from portal.exams import media
from portal.exams.models import Capture
from portal.reports import tasks
from portal.reports.forms import FindingsForm
from portal.reports.models import Report
from portal.reports.review import fill_worksheet, findings_of, sign_findings
from portal.worksheets.engine import Worksheet
from portal.worksheets.models import ExamType
from tests.factories import make_exam

FINDINGS = {
    "exam_type": "lung",
    "indication": "Right upper quadrant pain after meals.",
    "findings": "Multiple mobile echogenic foci with posterior shadowing.\nNo wall thickening.",
    "impression": "Cholelithiasis without cholecystitis.",
    "image_quality": "4",
    "clinician_feedback": "Good sweep; add a view of the duct at the porta next time.",
}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


@pytest.fixture
def exams(trio, northside, southside):
    alice, bob, charlie = trio
    return {
        "north": make_exam(northside, bob, patient_name="Nora North", captures=2),
        "alice_south": make_exam(southside, alice, patient_name="Alma South"),
        "charlie_south": make_exam(southside, charlie, patient_name="Sam South"),
    }


@pytest.fixture
def users(trio):
    return dict(zip(["alice", "bob", "charlie"], trio, strict=True))


@pytest.fixture
def login(client, users):
    """``login("alice")`` works in Northside; ``login("alice", "southside")`` as a clinician."""

    def log_in(name, institution=None):
        client.force_login(users[name])
        if institution:
            client.post(reverse("switch-institution"), {"institution": institution})
        return client

    return log_in


def sign(exam, user, *, build=True, **fields):
    """Sign ``exam``'s findings directly (not through a view); returns the report, its PDF
    made as the worker would (``build=False``: still *generating*). The worksheet is the
    lung one, every section normal and every view obtained."""
    form = FindingsForm({**FINDINGS, **fields}, instance=findings_of(exam))
    assert form.is_valid(), form.errors
    complete_worksheet(form.instance)
    report = sign_findings(form.instance, user)
    return built(report) if build and report is not None else report


def complete_worksheet(findings, code="lung"):
    """Every section of the exam type's worksheet normal, every view obtained (unsaved)."""
    exam_type = ExamType.objects.get(institution_id=findings.institution_id, code=code)
    sheet = Worksheet(exam_type.current_template().definition)
    fill_worksheet(
        findings,
        exam_type=exam_type,
        answers={**sheet.normal(), **(findings.answers or {})},
        views={code: "obtained" for code in sheet.views},
        key_images=findings.key_images,
    )
    return findings


def worksheet_post(exam, **fields):
    """The exam page's form as a reviewer posts it: FINDINGS, the lung worksheet complete."""
    exam_type = ExamType.objects.get(institution_id=exam.institution_id, code="lung")
    template = exam_type.current_template()
    sheet = Worksheet(template.definition)
    data = {**FINDINGS, "worksheet": template.pk}
    for code, value in sheet.normal().items():
        if isinstance(value, bool):  # a yes/no field posts as the page's radio does
            value = "yes" if value else "no"
        data[f"answer__{code}"] = value
    for code in sheet.views:
        data[f"view__{code}"] = "obtained"
    data.update(fields)
    return data


def built(report):
    """Make the version's PDF as the worker does, without pushing it: *pending* after."""
    claimed = work.claim(Report, report.pk, state=Report.State.GENERATING)
    assert claimed is not None, "the version is not due to be drawn"
    assert tasks.build_report(claimed) == "built"
    report.refresh_from_db()
    return report


def add_jpeg_captures(exam, count):
    """Add ``count`` small decodable JPEG captures to the exam's submission."""
    submission = exam.submissions.get()
    start = exam.captures.count()
    for position in range(start, start + count):
        capture = Capture(
            institution=exam.institution,
            exam=exam,
            submission=submission,
            position=position,
            source_url="https://example.invalid/",
            state=Capture.State.DONE,
            content_type="image/jpeg",
        )
        capture.file = media.capture_relpath(capture, "image/jpeg")
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (position * 40 % 255, 90, 120)).save(buffer, "JPEG")
        storage.save_bytes(capture.file, buffer.getvalue())
        capture.save()
