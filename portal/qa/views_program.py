"""The QA program dashboard (``/qa/program/``), for QA leads and administrators.

A period (by default the last 12 weeks, in the institution's zone) and its figures
(``portal.qa.program_stats``, a fixed number of queries): volume per exam type and per
operator, the QA backlog and turnaround against the target, image quality, and the
department's credentialing. Charts are drawn on the server as SVG
(``portal.dashboard.charts``), each with its figures as text; every table downloads as
CSV (``?download=volume|operators|backlog|quality|credentialing``).
"""

from __future__ import annotations

import csv
import datetime
import io

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode

from portal.dashboard.audit_log import safe_cell
from portal.dashboard.charts import bar_chart, duration_chart
from portal.exams.templatetags.display import duration_words
from portal.qa import program_stats
from portal.qa.access import qa_lead_required
from portal.qa.rubric import QUALITY_NAMES
from portal.tenants.timezones import zone_of

DOWNLOADS = ("volume", "operators", "backlog", "quality", "credentialing")
NO_TYPE = "No exam type"


class Category(str):
    """A chart's bar named by text rather than a day (``bar_chart`` writes its labels
    with a date format; this formats as itself whatever the format)."""

    def __format__(self, spec):
        return str(self)


def week_words(week: datetime.date) -> str:
    return f"Week of {week:%b %-d, %Y}"


def percent(value) -> str:
    return "–" if value is None else f"{round(value * 100)} %"


def volume_table(figures) -> dict:
    """Weeks × exam types (only the types with exams in the period, and "no exam type")."""
    used = {t for row in figures.volume for t in row["by_type"]}
    columns = [(t["pk"], t["name"]) for t in figures.exam_types if t["pk"] in used]
    if None in used:
        columns.append((None, NO_TYPE))
    rows = [
        {
            "week": row["week"],
            "counts": [row["by_type"].get(pk, 0) for pk, _ in columns],
            "total": row["total"],
        }
        for row in figures.volume
    ]
    return {"columns": [name for _, name in columns], "rows": rows}


def backlog_rows(figures) -> list[dict]:
    return [
        {
            **row,
            "median_words": duration_words(row["median"]) if row["median"] is not None else "",
            "p90_words": duration_words(row["p90"]) if row["p90"] is not None else "",
            "on_time_share": program_stats.share(row["on_time"], row["n"]),
        }
        for row in figures.turnaround
    ]


def charts(figures) -> dict:
    volume = bar_chart(
        [(row["week"], row["total"]) for row in figures.volume],
        title="Exams per week",
        description="Exams first submitted each week of the period, all exam types.",
        integer=True,
        label_every=max(1, len(figures.volume) // 6),
        label=lambda week, n: f"{week_words(week)}: {n} exam{'' if n == 1 else 's'}",
    )
    turnaround = duration_chart(
        [(row["week"], row["median"]) for row in figures.turnaround],
        title="Median QA turnaround per week",
        description="Median time from selection for QA to scoring, first reads, by week "
        f"of scoring; the target is {figures.target_hours} hours.",
        label=lambda week, d: (
            f"{week_words(week)}: "
            + (f"median {duration_words(d)}" if d is not None else "none scored")
        ),
    )
    quality = bar_chart(
        [(Category(str(level["level"])), level["n"]) for level in figures.quality["levels"]],
        title="Image quality scores",
        description="First reads scored in the period, by image quality from 1 to 5.",
        integer=True,
        label_every=1,
        label=lambda level, n: (
            f"{level} ({QUALITY_NAMES[int(level)]}): {n} review{'' if n == 1 else 's'}"
        ),
    )
    return {"volume": volume, "turnaround": turnaround, "quality": quality}


def csv_response(name: str, header: list, rows: list[list]) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell("" if cell is None else cell) for cell in row])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def download(kind: str, figures, slug: str) -> HttpResponse:
    period = figures.period
    name = f"qa-{kind}-{slug}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    if kind == "volume":
        table = volume_table(figures)
        rows = [[row["week"].isoformat(), *row["counts"], row["total"]] for row in table["rows"]]
        return csv_response(name, ["Week (Monday)", *table["columns"], "Total"], rows)
    if kind == "operators":
        header = ["Operator", "Email", "Exams", "Exam types", "QA reviews scored", "QA passed"]
        rows = [
            [o["name"], o["email"], o["exams"], o["exam_types"], o["reviewed"], o["passed"]]
            for o in figures.operators
        ]
        return csv_response(name, header, rows)
    if kind == "backlog":
        header = [
            "Week (Monday)",
            "QA reviews scored",
            "Median turnaround (hours)",
            "90th percentile (hours)",
            f"Within {figures.target_hours} hours",
        ]
        rows = [
            [
                row["week"].isoformat(),
                row["n"],
                program_stats.hours(row["median"]),
                program_stats.hours(row["p90"]),
                row["on_time"],
            ]
            for row in figures.turnaround
        ]
        return csv_response(name, header, rows)
    if kind == "quality":
        n = figures.quality["n"]
        rows = [
            [level["level"], QUALITY_NAMES[level["level"]], level["n"]]
            for level in figures.quality["levels"]
        ]
        rows.append(["", "Passed QA", figures.quality["passed"]])
        rows.append(["", "Scored in the period", n])
        return csv_response(name, ["Image quality", "Meaning", "QA reviews"], rows)
    header = [
        "Exam type",
        "QA-passed exams required",
        "Credentialed",
        "By count",
        "By an administrator's grant",
        "Credentialed in the period",
        "In training",
    ]
    rows = [
        [
            c["exam_type"],
            c["required"],
            c["credentialed"],
            c["by_count"],
            c["by_grant"],
            c["credentialed_in_period"],
            c["in_training"],
        ]
        for c in figures.credentialing
    ]
    return csv_response(name, header, rows)


@qa_lead_required
def program(request):
    institution = request.institution
    zone = zone_of(institution)
    params = request.GET
    kind = params.get("download")
    if kind is not None and kind not in DOWNLOADS:
        return render(
            request,
            "qa/program_error.html",
            {"error": "There is no such table to download.", "period_error": False},
            status=400,
        )
    try:
        period = program_stats.period_from(params, zone)
    except program_stats.BadPeriod as error:
        context = {"error": str(error), "period_error": True, "field": error.field}
        return render(request, "qa/program_error.html", context, status=400)
    figures = program_stats.figures(institution, period)
    if kind:
        return download(kind, figures, institution.slug)
    query = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    overall = figures.turnaround_overall
    context = {
        "figures": figures,
        "period": period,
        "charts": charts(figures),
        "volume": volume_table(figures),
        "volume_total": sum(row["total"] for row in figures.volume),
        "backlog_rows": backlog_rows(figures),
        "overall": {
            "n": overall["n"],
            "median": duration_words(overall["median"]) if overall["median"] is not None else "–",
            "p90": duration_words(overall["p90"]) if overall["p90"] is not None else "–",
            "on_time_share": percent(program_stats.share(overall["on_time"], overall["n"])),
        },
        "quality_rows": [
            {
                **level,
                "name": QUALITY_NAMES[level["level"]],
                "share": percent(program_stats.share(level["n"], figures.quality["n"])),
            }
            for level in figures.quality["levels"]
        ],
        "passed_share": percent(figures.quality["passed_share"]),
        "downloads": {kind: "?" + urlencode({**query, "download": kind}) for kind in DOWNLOADS},
    }
    return render(request, "qa/program.html", context)
