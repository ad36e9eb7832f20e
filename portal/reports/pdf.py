"""The clinical report PDF: an HTML page (``templates/reports/pdf/``) drawn by WeasyPrint.

One function, ``render_report``, writes the whole document for the chart: institution,
patient (name, identifier, date of birth and age at the exam, sex), exam type, scan time
in the institution's zone, accession number and referring physician when Clarius sent
them, operator, the worksheet's answered sections and its views, the interpretation, the
key images with their captions, the signature with the signer's credentials, the
attestation, the addenda (first, on an amended version) and "Page n of m" on each page.
The QA score and the feedback to the clinician stay in the portal: they are not drawn.

Why HTML and WeasyPrint: Pango and HarfBuzz shape every script (Arabic joined and right
to left, Devanagari's conjuncts, CJK) with the fonts fontconfig finds, and embed only the
glyphs used. The fonts come from Debian packages the set-up installs
(``scripts/system-packages.sh``). Everything typed is escaped by the template and drawn
as text, never read as markup; one-line values lose their control and bidi characters
(``portal.text.clean_text``) and are isolated (``dir="auto"``) so an Arabic name does not
reorder the line it sits on.

Nothing is fetched: the only URLs the document may load are the key images' files this
module chose (``LocalOnlyFetcher``). It runs in the worker, never in a request.

Cost: about a second for a usual report with six images (``bench/bench_pdf.py``), then
about a millisecond of CPU per line of text; the largest worksheet the limits allow
(``portal/reports/limits.py``, some 5,000 lines) takes about 5 s of CPU. A long word
gets break opportunities (``breakable``) so it costs no more than its length.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from django.template.loader import render_to_string
from PIL import Image as PILImage
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher

from portal import storage
from portal.exams.captures import DEFAULT_KEY_IMAGES, stills
from portal.exams.labels import field_label
from portal.exams.models import Patient
from portal.text import clean_text

logger = logging.getLogger(__name__)

TEMPLATE = "reports/pdf/report.html"
STYLESHEET = Path(__file__).resolve().parents[2] / "templates" / "reports" / "pdf" / "report.css"
NOT_SPECIFIED = "Not specified"


# First strong isolate … pop directional isolate: a name inside a sentence keeps its own
# direction without reordering the words around it (WeasyPrint ignores CSS unicode-bidi).
FSI, PDI = "\u2068", "\u2069"


class Text(str):
    """A value for the template: its text, and ``dir``, the direction of its first strong
    character ("rtl" for Arabic or Hebrew), which is what ``dir="auto"`` means in a
    browser; WeasyPrint knows only "ltr" and "rtl"."""

    @property
    def dir(self) -> str:
        for character in self:
            kind = unicodedata.bidirectional(character)
            if kind in ("R", "AL"):
                return "rtl"
            if kind == "L":
                return "ltr"
        return "ltr"


# A run of more than LONGEST_RUN characters with no space gets a zero-width space after each
# LONGEST_RUN: a break opportunity. Without one, the whole run is cut by "overflow-wrap:
# anywhere", which costs WeasyPrint time in the square of its length (a 40,000-character
# word took over a minute); with them, drawing costs time in proportion to the text.
LONGEST_RUN = 40
_LONG_RUN = re.compile(rf"\S{{{LONGEST_RUN + 1},}}")
ZWSP = "\u200b"


def breakable(text: str) -> str:
    return _LONG_RUN.sub(
        lambda run: ZWSP.join(
            run[0][i : i + LONGEST_RUN] for i in range(0, len(run[0]), LONGEST_RUN)
        ),
        text,
    )


def shown(value, *, multiline: bool = False) -> Text:
    """Outside text as the page shows it: cleaned, breakable, with its direction."""
    return Text(breakable(clean_text(value, multiline=multiline)))


def isolated(text: str) -> str:
    """``text`` (cleaned) to sit inside a line of other words."""
    return f"{FSI}{clean_text(text)}{PDI}" if text else ""


@dataclass(frozen=True)
class KeyImage:
    number: int  # as the exam page's gallery numbers it
    url: str  # a data: URL of the picture (the fetcher lets data: through)
    caption: Text


def render_report(path: Path, *, exam, submission, version: int, addenda: int | None = None):
    """Write the report of ``exam`` (its signed findings and addenda) to ``path``.

    ``addenda``: how many addenda the version carries (all of them when ``None``), so a
    version drawn late shows what was signed when it was issued, not what came after.
    """
    context = report_context(exam, submission, version, addenda)
    html = render_to_string(TEMPLATE, context)
    fetcher = LocalOnlyFetcher({image.url for image in context["key_images"]})
    document = HTML(string=html, base_url=STYLESHEET.parent.as_uri() + "/", url_fetcher=fetcher)
    stylesheet = CSS(string=STYLESHEET.read_text(), url_fetcher=fetcher)
    tmp = path.with_suffix(".tmp")
    try:
        # No creation or modification date is written (WeasyPrint adds them only when the
        # page has them): the same content gives the same bytes.
        document.write_pdf(tmp, stylesheets=[stylesheet])
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class LocalOnlyFetcher(URLFetcher):
    """WeasyPrint's URL fetcher, refusing every URL but ``data:`` and the files allowed.

    A stylesheet or a typed value can never make the worker reach the network or read
    another file: what is refused is logged by WeasyPrint and left out of the page.
    """

    def __init__(self, allowed: set[str]):
        super().__init__(allowed_protocols=("data", "file"), allow_redirects=False, timeout=5)
        self.allowed = frozenset(allowed)

    def fetch(self, url, headers=None):
        if not (url.startswith("data:") or url in self.allowed):
            raise ValueError(f"the report loads no outside resource: {url[:200]}")
        return super().fetch(url, headers)


def report_context(exam, submission, version: int, addenda: int | None) -> dict:
    """Everything the template shows, as plain values: the template only lays it out."""
    zone = institution_zone(exam.institution)
    findings = exam.findings
    scanned = exam.first_submitted_at
    carried = list(_addenda(exam, addenda))
    patient = _patient(exam, scanned, zone)
    if findings.awaiting_attestation:
        status = "PRELIMINARY"
    elif carried:
        status = "AMENDED"
    else:
        status = ""
    numbers = _capture_numbers(exam)
    return {
        "institution": shown(exam.institution.name),
        "title": "Ultrasound report",
        "document_title": f"Ultrasound report — {clean_text(exam.institution.name)}",
        "status": status,
        "version": version,
        "patient": patient,
        "exam_rows": _exam_rows(exam, submission, version, scanned, zone, patient),
        "sections": _sections(findings),
        "indication": shown(findings.indication, multiline=True),
        "additional_findings": shown(findings.findings, multiline=True),
        "impression": shown(findings.impression, multiline=True),
        "signature": _signature(findings, zone),
        "addenda": [
            {
                "number": a.number,
                "text": shown(a.text, multiline=True),
                "signed": f"Signed by {person(a.signed_by)} on {when(a.signed_at, zone)}",
                "images": _refers_to(a, numbers),
            }
            for a in carried
        ],
        "key_images": _key_images(exam, findings, numbers),
        "signer": person(findings.attested_by or findings.signed_by, inline=False),
        "footer": " · ".join(
            part
            for part in [
                isolated(exam.institution.name),
                isolated(patient["name"]),
                f"report version {version}",
            ]
            if part
        ),
    }


def institution_zone(institution) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(institution.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # A zone this machine lost since it was chosen: UTC, which the time then says.
        return zoneinfo.ZoneInfo("UTC")


def when(moment: datetime | None, zone) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def person(user, *, inline: bool = True) -> str:
    """The name (the email without one) and credentials: "Dr Bob Reviewer, MD, RDMS";
    each part isolated to sit in a sentence, unless ``inline`` is false."""
    if user is None:
        return "unknown"
    wrap = isolated if inline else clean_text
    name = wrap(user.full_name or user.email)
    credentials = clean_text(getattr(user, "credentials", "") or "").strip()
    return f"{name}, {wrap(credentials)}" if credentials else name


def age_at(birth: date, day: date) -> str:
    """Age on ``day``: years; months under two years; days under a month."""
    if day < birth:
        return ""
    months = (day.year - birth.year) * 12 + day.month - birth.month - (day.day < birth.day)
    if months < 1:
        days = (day - birth).days
        return f"{days} day" + ("" if days == 1 else "s")
    if months < 24:
        return f"{months} month" + ("" if months == 1 else "s")
    years = months // 12
    return f"{years} years"


def _patient(exam, scanned, zone) -> dict:
    try:
        patient = exam.patient
    except Patient.DoesNotExist:
        return {"name": "Not given", "rows": [], "extra": {}}
    if patient.date_of_birth:
        birth = patient.date_of_birth.isoformat()
        if scanned is not None:
            age = age_at(patient.date_of_birth, scanned.astimezone(zone).date())
            birth = f"{birth} (age {age} at the exam)" if age else birth
    else:
        birth = patient.date_of_birth_text
    name = patient.display_name or "Not given"
    if patient.is_animal:
        rows = [
            ("Patient", patient.animal_name),
            ("Species", patient.animal_type),
            ("Owner", patient.owner_name),
            ("Patient ID", patient.identifier),
            ("Date of birth", birth),
            ("Sex", patient.gender),
        ]
    else:
        rows = [
            ("Patient", name),
            ("Patient ID", patient.identifier),
            ("Date of birth", birth),
            ("Sex", patient.gender),
        ]
    extra = patient.extra if isinstance(patient.extra, dict) else {}
    return {
        "name": clean_text(name),
        "rows": [(label, shown(value or "—")) for label, value in rows],
        "extra": extra,
    }


def _exam_rows(exam, submission, version, scanned, zone, patient) -> list[tuple[str, str]]:
    exam_type = exam.exam_type
    extra = patient["extra"]
    rows = [("Exam type", clean_text(exam_type.name) if exam_type else NOT_SPECIFIED)]
    if exam_type is not None and exam_type.cpt_codes:
        rows.append(("CPT", ", ".join(clean_text(c) for c in exam_type.cpt_codes)))
    rows.append(("Scanned", when(scanned, zone)))
    for key in ("accession_number", "referring_physician"):
        value = extra.get(key)
        if isinstance(value, str | int) and str(value).strip():
            rows.append((field_label(key), clean_text(value, max_length=200)))
    weight = extra.get("weight_kg")
    if isinstance(weight, int | float) and not isinstance(weight, bool) and weight > 0:
        rows.append(("Weight", f"{weight:g} kg"))
    rows += [
        ("Operator", person(exam.operator, inline=False)),
        ("Exam ID", str(exam.exam_uuid)),
        ("Submission", f"{submission.request_uuid} ({when(submission.submitted_at, zone)})"),
        ("Report version", str(version)),
    ]
    return [(label, Text(breakable(value))) for label, value in rows]


def _sections(findings) -> dict:
    """The worksheet as the report reads it: answered fields, and the views that matter."""
    template = findings.template
    if template is None:
        # A worksheet from before templates: its free-text views, if it has any.
        return {"answered": [], "views": [], "legacy_views": _legacy_views(findings)}
    from portal.worksheets.engine import DefinitionError, Worksheet

    try:
        sheet = Worksheet(template.definition)
    except DefinitionError:
        logger.warning("worksheet template %s does not load; its answers left out", template.pk)
        return {"answered": [], "views": [], "legacy_views": _legacy_views(findings)}
    answers = findings.answers if isinstance(findings.answers, dict) else {}
    views = findings.views if isinstance(findings.views, dict) else {}
    answered = [
        (title, [(label, shown(value)) for label, value in rows])
        for title, rows in sheet.sections_answered(
            {k: v for k, v in answers.items() if k in sheet.fields}
        )
    ]
    recorded = [
        (label, shown(status))
        for (code, view), (label, status) in zip(
            sheet.views.items(), sheet.views_recorded(views), strict=True
        )
        if view.required or code in views
    ]
    return {
        "answered": answered,
        "views": recorded,
        "legacy_views": _legacy_views(findings),
    }


def _legacy_views(findings) -> Text:
    return shown(findings.views_obtained.strip(), multiline=True)


def _signature(findings, zone) -> dict:
    signed = when(findings.signed_at, zone)
    if findings.signed_as_trainee:
        # Neutral: a trainee, or an operator not yet credentialed for the exam type.
        line = f"Preliminary interpretation by {person(findings.signed_by)} on {signed}"
    else:
        line = f"Signed by {person(findings.signed_by)} on {signed}"
    attestation = None
    if findings.is_attested:
        attestation = {
            "statement": shown(findings.attestation_statement, multiline=True),
            "line": f"Attested by {person(findings.attested_by)} on "
            f"{when(findings.attested_at, zone)}",
        }
    return {"line": line, "attestation": attestation}


def _addenda(exam, addenda: int | None):
    carried = exam.addenda.select_related("signed_by").order_by("number")
    if addenda is not None:
        carried = carried.filter(number__lte=addenda)
    return carried


def _capture_numbers(exam) -> dict[int, int]:
    """Capture id → its number on the exam page (the gallery's order, from 1)."""
    # A resubmitted copy is not in the gallery, so it takes no number.
    ids = (
        exam.captures.filter(duplicate_of__isnull=True)
        .order_by("submission__submitted_at", "position", "id")
        .values_list("id", flat=True)
    )
    return {pk: number for number, pk in enumerate(ids, start=1)}


def _refers_to(addendum, numbers) -> str:
    shown = sorted(numbers[c.pk] for c in addendum.captures.all() if c.pk in numbers)
    if not shown:
        return ""
    return ("Refers to image " if len(shown) == 1 else "Refers to images ") + ", ".join(
        str(n) for n in shown
    )


def _key_images(exam, findings, numbers) -> list[KeyImage]:
    """The reviewer's key images with their captions, in capture order; none chosen: the
    first six still images, without captions. An unreadable picture is left out."""
    chosen = findings.key_images if isinstance(findings.key_images, dict) else {}
    captures = stills(exam)
    if chosen:
        ids = {int(k) for k in chosen if str(k).isdigit()}
        captures = captures.filter(pk__in=ids)
    out = []
    for capture in captures.iterator():
        if len(out) == DEFAULT_KEY_IMAGES and not chosen:
            break
        url = _readable(capture)
        if url is None:
            continue
        caption = clean_text(chosen.get(str(capture.pk)) or "", max_length=300) if chosen else ""
        out.append(KeyImage(numbers.get(capture.pk, 0), url, Text(breakable(caption))))
    return out


def _readable(capture) -> str | None:
    """The picture (its thumbnail when there is one) as a ``data:`` URL if it decodes,
    else ``None``. Read through the storage, so the worker needs no shared disk."""
    try:
        data = storage.read_bytes(capture.thumbnail or capture.file)
        with PILImage.open(io.BytesIO(data)) as picture:
            picture.load()  # decode it all now: a broken file must not break the build
            if picture.format not in DRAWN_FORMATS:
                raise ValueError(f"not drawn in a report: {picture.format}")
            kind = DRAWN_FORMATS[picture.format]
    except Exception:
        # A missing or unreadable picture leaves a gap, never an unsignable report.
        logger.warning("key image of capture %s is unreadable; left out", capture.pk)
        return None
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


DRAWN_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
