"""The PDF of a signed review, drawn with reportlab.

One function, ``render_report``, writes the whole document: institution, patient, exam
and submission ids, operator, the signed findings with the QA block, a few key images,
the signature, the addenda the version carries, and "Page n of m" on each page. Built-in
PDF fonts only, so nothing is fetched or embedded from outside the portal.

It runs in the worker, never in a request. What people typed is drawn as plain text
(``TextBlock``), not as reportlab paragraphs: a paragraph is parsed as markup and re-flowed
each time it is split across a page, which made a long impression cost minutes; plain
lines cost time in proportion to their length, and no typed text is ever read as markup.
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
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    Flowable,
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


def render_report(path: Path, *, exam, submission, version: int, addenda: int | None = None):
    """Write the report of ``exam`` (its signed findings and addenda) to ``path``.

    ``addenda``: how many addenda the version carries (all of them when ``None``), so a
    version drawn late shows what was signed when it was issued, not what came after.
    """
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
        story += _lines(f"Feedback to the clinician: {findings.clinician_feedback}", styles)
    story.append(_signature(findings.signed_by, findings.signed_at, styles))
    carried = exam.addenda.select_related("signed_by").order_by("number")
    if addenda is not None:
        carried = carried.filter(number__lte=addenda)
    for addendum in carried:
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


class TextBlock(Flowable):
    """Plain text in one font, wrapped at word boundaries, split across pages by lines.

    Line breaks are kept; a word wider than the column is cut. Wrapping costs one
    width measurement per line that fits (most do) or per word, and splitting costs a
    slice: the whole block is drawn in time proportional to its length.
    """

    def __init__(self, text: str, style, lines: list[str] | None = None, width=None):
        super().__init__()
        self.text, self.style = text, style
        self._lines, self._lines_width = lines, width

    def wrap(self, avail_width, avail_height):
        if self._lines is None or self._lines_width != avail_width:
            self._lines = wrap_lines(self.text, self.style, avail_width)
            self._lines_width = avail_width
        self.width, self.height = avail_width, len(self._lines) * self.style.leading
        return self.width, self.height

    def split(self, avail_width, avail_height):
        self.wrap(avail_width, avail_height)
        fit = int(avail_height // self.style.leading)
        if fit <= 0:
            return []
        if fit >= len(self._lines):
            return [self]
        head, tail = self._lines[:fit], self._lines[fit:]
        return [
            TextBlock("", self.style, head, avail_width),
            TextBlock("", self.style, tail, avail_width),
        ]

    def draw(self):
        text = self.canv.beginText(0, self.height - self.style.fontSize)
        text.setFont(self.style.fontName, self.style.fontSize, self.style.leading)
        for line in self._lines:
            text.textLine(line)
        self.canv.drawText(text)


def wrap_lines(text: str, style, width: float) -> list[str]:
    """``text`` as the lines that fit ``width`` in ``style``'s font."""

    def measure(s):
        return stringWidth(s, style.fontName, style.fontSize)

    space = measure(" ")
    out: list[str] = []
    for raw in text.expandtabs(4).splitlines() or [""]:
        if measure(raw) <= width:
            out.append(raw)
            continue
        line, used = "", 0.0
        for word in raw.split():
            size = measure(word)
            if line and used + space + size <= width:
                line, used = f"{line} {word}", used + space + size
                continue
            if line:
                out.append(line)
            line, used = word, size
            # A word wider than the column is cut; no more than ``most`` characters are
            # ever measured at once, so a 40,000-character word costs linear time too.
            most = int(width / space) + 1
            while used > width:
                cut = _fitting_prefix(line, width, measure, most)
                out.append(line[:cut])
                line = line[cut:]
                used = measure(line) if len(line) <= most else width + 1
        out.append(line)
    return out


def _fitting_prefix(word: str, width: float, measure, most: int) -> int:
    """How many leading characters of ``word`` (``most`` at most) fit ``width``; at least 1."""
    low, high = 1, min(len(word), most)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(word[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def _lines(text: str, styles, style="Normal") -> list:
    return [TextBlock(text, styles[style])]


def _section(title: str, text: str, styles) -> list:
    return [Paragraph(escape(title), styles["Section"]), *_lines(text or "—", styles)]


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
