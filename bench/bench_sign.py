"""Benchmark: the sign request no longer depends on the size of the findings.

Run ``python bench/bench_sign.py`` from the repository root (``make bench`` does). It
sets everything up itself in a temporary folder and removes it at the end:

1. a fresh SQLite database (WAL, as the embedded default), migrated, with django-q2's
   ORM broker: signing writes its queue message in the same transaction, as in
   production, and no worker runs while the requests are timed;
2. one institution and reviewer, and one exam (with a submission) per request;
3. ``POST /exams/<id>/sign/`` through Django's test ``Client`` (sessions, middleware,
   the form, the ORM; ``DEBUG`` off), ``RUNS`` times per case after a warm-up, the
   cases interleaved so a noisy moment hits both:

   * **tiny**: a one-line impression, the baseline measured in the same run;
   * **largest**: every field of the worksheet at its limit (``portal/reports/limits.py``),
     in as many lines as allowed;

4. a 500 KB impression, which must be refused (400) at once;
5. for reference, the worker's time to draw the largest worksheet's PDF: what the sign
   request used to wait for (a 500 KB impression once took 33 s).

Printed: p50 and p95 of each case, the largest/tiny ratio of the medians against its
target (≤ 1.5: the answer must not depend on the PDF's size), the refusal's time and
the worker's drawing time. Exit status 1 if the ratio misses its target, a signature
does not answer 302, the sign request drew a PDF, or the 500 KB impression is not
refused. Takes about 10 seconds.
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path; its modules must only ever be
# imported as bench.<name>.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.lib import django_setup, seed  # noqa: E402
from bench.lib.report import Column, Table, percentile  # noqa: E402

RUNS = 15
REFUSALS = 5
TARGET = 1.5
FINDINGS = {
    "indication": "Right upper quadrant pain after meals.",
    "findings": "Multiple mobile echogenic foci with posterior shadowing.",
    "impression": "Cholelithiasis.",
    "image_quality": "4",
    "clinician_feedback": "",
}


def setup_django(folder: Path) -> None:
    database_url = f"sqlite:///{folder / 'bench.sqlite3'}"
    django_setup.in_process(database_url, PORTAL_MEDIA_ROOT=str(folder / "media"))
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the 400s are expected


def lung_worksheet(institution) -> dict:
    """The lung worksheet as the page posts it: every section normal, every view obtained."""
    from portal.worksheets.engine import Worksheet
    from portal.worksheets.models import ExamType

    template = ExamType.objects.get(institution=institution, code="lung").current_template()
    sheet = Worksheet(template.definition)
    data = {**FINDINGS, "exam_type": "lung", "worksheet": str(template.pk)}
    for code, value in sheet.normal().items():
        if isinstance(value, bool):
            value = "yes" if value else "no"
        data[f"answer__{code}"] = value
    for code in sheet.views:
        data[f"view__{code}"] = "obtained"
    return data


def largest_worksheet(institution) -> dict:
    from portal.reports.forms import TEXT_FIELDS
    from portal.reports.limits import FINDINGS_LIMITS, LINE_LIMIT

    fields = lung_worksheet(institution)
    for name in TEXT_FIELDS:
        limit = FINDINGS_LIMITS[name]
        line = ("echogenic focus with shadowing " * 4)[: limit // LINE_LIMIT - 1]
        fields[name] = "\n".join([line] * LINE_LIMIT)
    return fields


def sign_once(client, exam, data) -> float:
    started = time.perf_counter()
    response = client.post(f"/exams/{exam.pk}/sign/", data)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 302:
        raise SystemExit(f"signing answered {response.status_code}, not 302")
    return elapsed


def run(institution, reviewer) -> dict:
    from django.test import Client

    from portal.reports import pdf
    from portal.reports.models import Report

    drawn = []
    real = pdf.render_report
    pdf.render_report = lambda *a, **k: drawn.append(1) or real(*a, **k)
    client = Client()
    client.force_login(reviewer)
    cases = {"tiny": lung_worksheet(institution), "largest": largest_worksheet(institution)}
    times = {name: [] for name in cases}
    for data in cases.values():  # warm-up: caches, templates, the first connection
        sign_once(client, seed.exam_with_submission(institution, reviewer), data)
    for _ in range(RUNS):
        for name, data in cases.items():
            times[name].append(
                sign_once(client, seed.exam_with_submission(institution, reviewer), data)
            )
    pdf.render_report = real

    refused = []
    impression = ("Normal gallbladder; " * 25_600)[:511_999] + "."  # 512,000 characters
    for _ in range(REFUSALS):
        exam = seed.exam_with_submission(institution, reviewer)
        started = time.perf_counter()
        response = client.post(
            f"/exams/{exam.pk}/sign/", {**lung_worksheet(institution), "impression": impression}
        )
        refused.append(((time.perf_counter() - started) * 1000, response.status_code))

    # The worker's half, once, for the largest worksheet: what signing used to wait for.
    from portal import work
    from portal.reports.tasks import build_report

    largest = Report.objects.filter(state="generating").order_by("-id")
    report = next(r for r in largest if len(r.exam.findings.findings) > 10_000)
    started = time.perf_counter()
    outcome = build_report(work.claim(Report, report.pk, state="generating"))
    drawing = time.perf_counter() - started
    report.refresh_from_db()
    return {
        # The typed text of each case (the worksheet's answers are short codes).
        "sizes": {name: sum(len(data[k]) for k in FINDINGS) for name, data in cases.items()},
        "times": times,
        "drawn": len(drawn),
        "refused": refused,
        "drawing": drawing,
        "outcome": outcome,
        "size": report.size or 0,
    }


TABLE = Table(
    Column("case", 10, left=True),
    Column("characters", 10, ","),
    Column("p50", 8, ".1f"),
    Column("p95", 8, ".1f"),
)


def report(result, seconds) -> list[str]:
    times, problems = result["times"], []
    print(f"\nPOST /exams/<id>/sign/, {RUNS} requests per case after a warm-up; times in ms.")
    print(TABLE.header())
    sizes = result["sizes"]
    for name, values in times.items():
        print(TABLE.row(name, sizes[name], statistics.median(values), percentile(values, 0.95)))
    ratio = statistics.median(times["largest"]) / statistics.median(times["tiny"])
    verdict = "OK" if ratio <= TARGET else "MISSED"
    print(f"largest/tiny p50 ratio: {ratio:.2f} (target ≤ {TARGET}): {verdict}")
    if ratio > TARGET:
        problems.append(f"the sign request depends on the findings' size ({ratio:.2f}×)")
    if result["drawn"]:
        problems.append(f"the sign request drew {result['drawn']} PDF(s) itself")
    statuses = {status for _, status in result["refused"]}
    refusal = statistics.median(ms for ms, _ in result["refused"])
    print(f"500 KB impression: answered {sorted(statuses)} in {refusal:.1f} ms (p50 of {REFUSALS})")
    if statuses != {400}:
        problems.append(f"a 500 KB impression answered {sorted(statuses)}, not 400")
    print(
        f"for reference, the worker drew the largest worksheet's PDF "
        f"({result['size']:,} bytes) in {result['drawing']:.2f} s ({result['outcome']}); "
        f"the sign request no longer waits for it. Total time {seconds:.0f} s."
    )
    return problems


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-sign-") as folder:
        setup_django(Path(folder))
        from django.db import connections

        django_setup.migrate()
        print(f"migrated a fresh SQLite database in {time.monotonic() - started:.1f} s")
        institution = seed.institution()
        reviewer = seed.member(institution, "reviewer@bench.example", "reviewer")
        result = run(institution, reviewer)
        connections.close_all()
        problems = report(result, time.monotonic() - started)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
