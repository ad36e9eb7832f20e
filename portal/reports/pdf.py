"""The PDF of a signed review, drawn with reportlab.

One function, ``render_report``, writes the whole document: institution, patient, exam
and submission ids, operator, the signed findings with the QA block, a few key images,
the signature, every addendum, and "Page n of m" on each page. Built-in PDF fonts only,
so nothing is fetched or embedded from outside the portal.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from xml.sax.saxutils import escape

from django.utils import timezone
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from portal.exams import media
from portal.exams.models import Capture, Patient
from portal.text import clean_text

logger = logging.getLogger(__name__)

KEY_IMAGES = 4
KEY_IMAGE_WIDTH = 75 * mm
MARGIN = 18 * mm


class NumberedCanvas(canvas.Canvas):
    """Holds every page back until the end, so each footer can say "Page n of m"."""

    def __init__(self, *args, footer: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for number, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            self.setFont("Helvetica", 8)
            self.setFillColor(colors.grey)
            self.drawString(MARGIN, 10 * mm, self._footer)
            self.drawRightString(A4[0] - MARGIN, 10 * mm, f"Page {number} of {total}")
            super().showPage()
        super().save()


def render_report(path: Path, *, exam, submission, version: int) -> None:
    """Write the report of ``exam`` (its signed findings and addenda) to ``path``."""
    styles = _styles()
    findings = exam.findings
    story = [
        Paragraph(escape(exam.institution.name), styles["Institution"]),
        Paragraph("Ultrasound report", styles["Title"]),
        _details_table(exam, submission, version, styles),
        Spacer(1, 6 * mm),
    ]
    for title, text in [
        ("Indication", findings.indication),
        ("Views obtained", findings.views_obtained),
        ("Findings", findings.findings),
        ("Impression", findings.impression),
    ]:
        story += _section(title, text, styles)
    quality = f"{findings.image_quality} / 5" if findings.image_quality else "not rated"
    story += _section("Quality assurance", f"Image quality: {quality}", styles)
    if findings.clinician_feedback:
        story.append(
            _paragraph(f"Feedback to the clinician: {findings.clinician_feedback}", styles)
        )
    story.append(_signature(findings.signed_by, findings.signed_at, styles))
    for addendum in exam.addenda.select_related("signed_by").order_by("number"):
        block = _section(f"Addendum {addendum.number}", addendum.text, styles)
        block.append(_signature(addendum.signed_by, addendum.signed_at, styles))
        story.append(KeepTogether(block))
    story += _key_images(exam, styles)

    footer = f"{exam.institution.name} · exam {exam.exam_uuid} · version {version}"
    tmp = path.with_suffix(".tmp")
    document = SimpleDocTemplate(
        str(tmp),
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=f"Ultrasound report — {exam.institution.name}",
        author=_person(findings.signed_by),
        invariant=True,  # the same content gives the same bytes: tests and checksums agree
    )
    try:
        document.build(story, canvasmaker=functools.partial(NumberedCanvas, footer=footer))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _styles():
    styles = getSampleStyleSheet()
    styles.add(ParagraphStyle("Institution", parent=styles["Normal"], textColor=colors.grey))
    styles.add(ParagraphStyle("Section", parent=styles["Heading3"], spaceBefore=8, spaceAfter=2))
    styles.add(
        ParagraphStyle(
            "Signature", parent=styles["Normal"], fontName="Helvetica-Bold", spaceBefore=6
        )
    )
    styles.add(ParagraphStyle("Cell", parent=styles["Normal"], fontSize=9, leading=11))
    return styles


def _paragraph(text: str, styles, style="Normal") -> Paragraph:
    # Paragraph text is reportlab markup: escape what people typed, keep their line breaks.
    return Paragraph(escape(text).replace("\n", "<br/>"), styles[style])


def _section(title: str, text: str, styles) -> list:
    return [Paragraph(escape(title), styles["Section"]), _paragraph(text or "—", styles)]


def _details_table(exam, submission, version: int, styles) -> Table:
    rows = [(label, value or "—") for label, value in _patient_rows(exam)]
    rows += [
        ("Exam", str(exam.exam_uuid)),
        ("Submission", f"{submission.request_uuid} ({_when(submission.submitted_at)})"),
        ("Operator", _person(exam.operator)),
        ("Report version", str(version)),
    ]
    cells = [
        # Names and identifiers come from outside: controls and bidi overrides go.
        [_paragraph(label, styles, "Cell"), _paragraph(clean_text(value), styles, "Cell")]
        for label, value in rows
    ]
    table = Table(cells, colWidths=[35 * mm, None])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ]
        )
    )
    return table


def _patient_rows(exam) -> list[tuple[str, str]]:
    try:
        patient = exam.patient
    except Patient.DoesNotExist:
        return [("Patient", "not given")]
    birth = (
        patient.date_of_birth.isoformat() if patient.date_of_birth else patient.date_of_birth_text
    )
    if patient.is_animal:
        return [
            ("Patient", patient.animal_name),
            ("Species", patient.animal_type),
            ("Owner", patient.owner_name),
            ("Patient ID", patient.identifier),
            ("Date of birth", birth),
        ]
    return [
        ("Patient", patient.display_name),
        ("Patient ID", patient.identifier),
        ("Date of birth", birth),
        ("Sex", patient.gender),
    ]


def _key_images(exam, styles) -> list:
    """The first few still images (their thumbnails where we have them), two to a row.

    They come last, after the signatures, so the signed text reads without a page break.
    """
    pictures = []
    captures = exam.captures.filter(state=Capture.State.DONE, content_type__startswith="image/")
    for capture in captures.order_by("submission_id", "position"):
        if len(pictures) == KEY_IMAGES:
            break
        relative = capture.thumbnail or capture.file
        try:
            path = media.absolute(relative)
            with PILImage.open(path) as picture:
                picture.load()  # decode it all now: a broken file must not break the build
                width, height = picture.size
        except Exception:
            # A missing or unreadable picture leaves a gap, never an unsignable report.
            logger.warning("key image of capture %s is unreadable; left out", capture.pk)
            continue
        scale = KEY_IMAGE_WIDTH / width
        pictures.append(Image(str(path), width=KEY_IMAGE_WIDTH, height=height * scale))
    if not pictures:
        return []
    rows = [pictures[i : i + 2] for i in range(0, len(pictures), 2)]
    if len(rows[-1]) == 1:
        rows[-1].append("")
    grid = Table(rows, colWidths=[KEY_IMAGE_WIDTH + 4 * mm] * 2)
    grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [Paragraph("Key images", styles["Section"]), grid]


def _signature(user, moment, styles) -> Paragraph:
    text = f"Signed by {_person(user)} on {_when(moment)}"
    return Paragraph(escape(text), styles["Signature"])


def _person(user) -> str:
    if user is None:
        return "unknown"
    person = f"{user.full_name} ({user.email})" if user.full_name else user.email
    return clean_text(person)


def _when(moment) -> str:
    if moment is None:
        return "—"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
