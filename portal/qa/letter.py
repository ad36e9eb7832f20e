"""The credentialing letter (PDF): an operator's privileges as the portal records them,
for the medical staff office, drawn by WeasyPrint as the clinical report is
(``portal.reports.pdf``: the same fonts, the same local-only URL fetcher, typed text
escaped by the template and drawn as text).

It lists each exam type the operator is credentialed for (by count or by grant, since
when, the QA counts and the program's threshold), the types still in training with
their counts, the total against the institution's, the date of issue in the
institution's zone, and a line for the medical director's signature.

Drawn in the request: one page of text takes a fraction of a second (no images).
"""

from __future__ import annotations

from pathlib import Path

from django.template.loader import render_to_string
from weasyprint import CSS, HTML

from portal.qa import rubric
from portal.qa.credentialing import OperatorProgress
from portal.reports.pdf import LocalOnlyFetcher, institution_zone, person, shown

TEMPLATE = "qa/letter.html"
STYLESHEET = Path(__file__).resolve().parents[2] / "templates" / "qa" / "letter.css"


def letter_context(institution, progress: OperatorProgress, issued_at) -> dict:
    zone = institution_zone(institution)

    def day(moment):
        return moment.astimezone(zone).strftime("%Y-%m-%d") if moment else "—"

    def row(t):
        credential = t.credential
        basis = ""
        if credential is not None:
            if credential.basis == credential.Basis.GRANT:
                basis = f"Granted by {person(credential.granted_by)}"
            else:
                basis = "By count of QA-passed exams"
        return {
            "exam_type": shown(t.exam_type.name),
            "basis": basis,
            "note": shown(credential.note, multiline=True) if credential else "",
            "since": day(t.since),
            "passed": t.passed,
            "failed": t.failed,
            "pending": t.pending,
            "required": t.required,
        }

    user = progress.user
    return {
        "institution": shown(institution.name),
        "document_title": f"Credentialing letter — {person(user, inline=False)}",
        "operator": shown(person(user, inline=False)),
        "email": shown(user.email),
        "credentialed": [row(t) for t in progress.types if t.is_credentialed],
        "in_training": [row(t) for t in progress.types if not t.is_credentialed and t.scored],
        "total_passed": progress.total_passed,
        "total_required": progress.total_required,
        "issued": issued_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        "issued_day": day(issued_at),
        "passing_quality": rubric.PASSING_QUALITY,
    }


def render_letter(institution, progress: OperatorProgress, *, issued_at) -> bytes:
    html = render_to_string(TEMPLATE, letter_context(institution, progress, issued_at))
    fetcher = LocalOnlyFetcher(set())
    stylesheet = CSS(string=STYLESHEET.read_text(), url_fetcher=fetcher)
    return HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=[stylesheet])
