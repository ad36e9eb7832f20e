"""Benchmark: the clinical report PDF of an exam with six key images, next to its page.

Run ``python bench/bench_pdf.py`` from the repository root (``make bench`` does). It sets
everything up itself in a temporary folder and removes it at the end:

1. a fresh SQLite database, migrated (the institution gets the default exam types);
2. one exam with a patient in Arabic and Chinese script (the fonts of three scripts are
   loaded and embedded), six 640×480 JPEG captures (no thumbnails: the files themselves
   are drawn), and signed findings on the lung worksheet (every section answered, every
   view recorded) with an interpretation, a reviewer with credentials;
3. ``render_report`` as the worker calls it: the first (cold) drawing, its peak memory
   (Python allocations by ``tracemalloc``, and the growth of the process's peak RSS), then
   ``RUNS`` drawings, interleaved with ``RUNS`` requests for the exam's page
   (``GET /exams/<id>/`` as its reviewer through Django's test ``Client``, ``DEBUG``
   off): the page is the baseline measured in the same run.

Printed: p50 and p95 of both, the PDF/page ratio of the medians and the peak memory.
Targets: the PDF's median at most ``RATIO_TARGET`` times the page's, and the drawing's
peak memory under ``MEMORY_TARGET_MB``. Why these: the PDF is drawn by the worker, never
in a request, so it need not be as fast as a page; but a version is drawn for each
signature and addendum, and a worker drawing one report for longer than a few dozen page
renders (about a second here) would hold up the queue behind it. The memory target keeps
one drawing well inside a small worker (a 512 MB container runs the web and the worker).
Exit status 1 if a target is missed, a drawing fails, or the page does not answer 200.
Takes about half a minute.
"""

from __future__ import annotations

import gc
import io
import logging
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# Run as a script, this folder comes first on sys.path; its modules must only ever be
# imported as bench.<name>.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.lib import django_setup, seed  # noqa: E402
from bench.lib.meters import max_rss_bytes  # noqa: E402
from bench.lib.report import Column, Table, percentile  # noqa: E402

RUNS = 10
IMAGES = 6
RATIO_TARGET = 25.0
MEMORY_TARGET_MB = 150
IMPRESSION = (
    "Bilateral lung sliding. Scattered B-lines in the right lower zone, no effusion.\n"
    "Findings consistent with early interstitial oedema; correlate clinically."
)


def setup_django(folder: Path) -> None:
    database_url = f"sqlite:///{folder / 'bench.sqlite3'}"
    django_setup.in_process(database_url, PORTAL_MEDIA_ROOT=str(folder / "media"))
    logging.getLogger("weasyprint").setLevel(logging.WARNING)


def seed_exam(institution, reviewer):
    """The exam: a patient, six JPEG captures, signed structured findings."""
    from django.utils import timezone
    from PIL import Image, ImageDraw

    from portal import storage
    from portal.exams import media
    from portal.exams.models import Capture, Patient
    from portal.reports.models import Findings
    from portal.worksheets.engine import Worksheet
    from portal.worksheets.models import ExamType

    exam = seed.exam_with_submission(institution, reviewer)
    exam_type = ExamType.objects.filter(institution=institution, code="lung").first()
    exam_type = exam_type or ExamType.objects.filter(institution=institution).first()
    template = exam_type.templates.order_by("-version").first()
    exam.exam_type = exam_type
    exam.save()
    Patient.objects.create(
        institution=institution,
        exam=exam,
        identifier="MRN-0042",
        first_name="محمد",
        last_name="王小明",
        gender="Male",
        date_of_birth=timezone.now().date().replace(year=1970),
        extra={"accession_number": "ACC-1234", "referring_physician": "Dr Rhea Referrer"},
    )
    submission = exam.submissions.get()
    for position in range(IMAGES):
        capture = Capture(
            institution=institution,
            exam=exam,
            submission=submission,
            position=position,
            source_url="https://example.invalid/",
            state=Capture.State.DONE,
            content_type="image/jpeg",
            width=640,
            height=480,
        )
        capture.file = media.capture_relpath(capture, "image/jpeg")
        picture = Image.new("L", (640, 480), 10)
        draw = ImageDraw.Draw(picture)
        for ring in range(12):  # an ultrasound-like fan of grey arcs, not a flat colour
            draw.arc((40 + ring * 9, 40 + ring * 7, 600 - ring * 9, 900), 210, 330, 60 + ring * 15)
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, "JPEG", quality=85)
        storage.save_bytes(capture.file, buffer.getvalue())
        capture.size = len(buffer.getvalue())
        capture.save()
    sheet = Worksheet(template.definition)
    Findings.objects.create(
        institution=institution,
        exam=exam,
        template=template,
        answers=sheet.normal(),
        views={code: "obtained" for code in sheet.views},
        indication="Dyspnoea on exertion for three days.",
        findings="No pleural effusion. Diaphragm moves normally.",
        impression=IMPRESSION,
        signed_by=reviewer,
        signed_at=timezone.now(),
    )
    return exam


def draw_once(exam_pk, folder: Path, name: str) -> float:
    """One drawing as the worker does it (the exam read afresh); milliseconds."""
    from portal.exams.models import Exam
    from portal.reports.pdf import render_report

    started = time.perf_counter()
    exam = Exam.objects.select_related("institution", "operator").get(pk=exam_pk)
    render_report(folder / name, exam=exam, submission=exam.submissions.get(), version=1)
    return (time.perf_counter() - started) * 1000


def page_once(client, exam_pk) -> float:
    started = time.perf_counter()
    response = client.get(f"/exams/{exam_pk}/")
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"the exam page answered {response.status_code}, not 200")
    return elapsed


def run(folder: Path) -> dict:
    from django.test import Client

    institution = seed.institution()
    reviewer = seed.member(
        institution, "reviewer@bench.example", "reviewer", full_name="Dr Bench Reviewer"
    )
    reviewer.credentials = "MD, RDMS"
    reviewer.save()
    exam = seed_exam(institution, reviewer)
    client = Client()
    client.force_login(reviewer)

    # Cold: the first drawing loads WeasyPrint, Pango and the fonts; its peak RSS growth
    # is what a fresh worker pays.
    gc.collect()
    rss_before = max_rss_bytes()
    cold = draw_once(exam.pk, folder, "cold.pdf")
    rss_growth = max_rss_bytes() - rss_before
    gc.collect()
    tracemalloc.start()
    draw_once(exam.pk, folder, "traced.pdf")
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    page_once(client, exam.pk)  # warm-up: templates, the first queries

    pdf_times, page_times = [], []
    for run_number in range(RUNS):
        pdf_times.append(draw_once(exam.pk, folder, f"run-{run_number}.pdf"))
        page_times.append(page_once(client, exam.pk))
    from pypdf import PdfReader

    reader = PdfReader(folder / "run-0.pdf")
    images = len({image.name for page in reader.pages for image in page.images})
    return {
        "cold": cold,
        "pdf": pdf_times,
        "page": page_times,
        "traced_peak": traced_peak,
        "rss_growth": rss_growth,
        "size": (folder / "run-0.pdf").stat().st_size,
        "pages": len(reader.pages),
        "images": images,
    }


TABLE = Table(
    Column("case", 26, left=True),
    Column("p50", 8, ".1f"),
    Column("p95", 8, ".1f"),
)


def report(result, seconds) -> list[str]:
    problems = []
    print(f"\nThe report PDF of an exam with {IMAGES} key images (640×480 JPEG) and its page;")
    print(f"{RUNS} runs each after a warm-up, interleaved; times in ms.")
    print(TABLE.header())
    print(TABLE.row("render_report (PDF)", statistics.median(result["pdf"]),
                    percentile(result["pdf"], 0.95)))  # fmt: skip
    print(TABLE.row("GET /exams/<id>/ (page)", statistics.median(result["page"]),
                    percentile(result["page"], 0.95)))  # fmt: skip
    ratio = statistics.median(result["pdf"]) / statistics.median(result["page"])
    verdict = "OK" if ratio <= RATIO_TARGET else "MISSED"
    print(f"PDF/page p50 ratio: {ratio:.1f} (target ≤ {RATIO_TARGET:g}): {verdict}")
    if ratio > RATIO_TARGET:
        problems.append(f"the PDF takes {ratio:.1f}× the exam page (target {RATIO_TARGET:g}×)")
    traced = result["traced_peak"] / 1024 / 1024
    rss = result["rss_growth"] / 1024 / 1024
    peak = max(traced, rss)
    verdict = "OK" if peak < MEMORY_TARGET_MB else "MISSED"
    print(
        f"peak memory of a drawing: {traced:.1f} MB of Python allocations (tracemalloc), "
        f"peak RSS grew {rss:.1f} MB on the first (target < {MEMORY_TARGET_MB} MB): {verdict}"
    )
    if peak >= MEMORY_TARGET_MB:
        problems.append(f"a drawing peaks at {peak:.0f} MB (target < {MEMORY_TARGET_MB} MB)")
    if result["images"] != IMAGES:
        problems.append(f"the PDF holds {result['images']} images, not {IMAGES}")
    print(
        f"first (cold) drawing {result['cold']:.0f} ms; the PDF: {result['size']:,} bytes, "
        f"{result['pages']} page(s), {result['images']} images. Total time {seconds:.0f} s."
    )
    return problems


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as folder:
        setup_django(Path(folder))
        from django.db import connections

        django_setup.migrate()
        print(f"migrated a fresh SQLite database in {time.monotonic() - started:.1f} s")
        out = Path(folder) / "out"
        out.mkdir()
        result = run(out)
        connections.close_all()
        problems = report(result, time.monotonic() - started)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
