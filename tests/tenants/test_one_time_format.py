"""Times on pages go through ``|when`` (the institution's zone, with its abbreviation): a
template formatting a moment itself would show it without its zone."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Not moments in the institution's zone: a date of birth (a date, no zone), and the
# scanner's own clock with the offset it wrote.
ALLOWED = {
    "templates/reports/includes/patient.html",
    "integrations/clarius/templates/clarius/research_raw_data.html",
}
OWN_FORMAT = re.compile(r"\|\s*(date|time)\s*:|\{%\s*now\b")


def templates():
    for folder in ("templates", "portal", "integrations"):
        yield from (ROOT / folder).rglob("*.html")
        yield from (ROOT / folder).rglob("*.txt")


def test_no_template_formats_a_time_itself():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in templates()
        if "/templates/" in f"/{path.relative_to(ROOT)}"
        and str(path.relative_to(ROOT)) not in ALLOWED
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OWN_FORMAT.search(line)
    ]
    assert offenders == [], "use |when (portal/exams/templatetags/display.py): " + ", ".join(
        offenders
    )
