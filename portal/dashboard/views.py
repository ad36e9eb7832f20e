"""The staff's home page (dashboard); the worklist is in ``portal.dashboard.worklist``.

It starts from ``visible_exams`` (tenant rule, then role rule) and costs a fixed number
of queries whatever the number of exams: aggregates are computed by the database.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.http import urlencode

from portal.dashboard import panels, queries
from portal.dashboard.charts import bar_chart
from portal.dashboard.paging import BadCursor


def hours(duration) -> float | None:
    return None if duration is None else duration.total_seconds() / 3600


def format_hours(value) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} h".replace(".0 h", " h") if value < 100 else f"{value:.0f} h"


@login_required
def home(request):
    """The current institution at a glance: counts, 30-day charts, recent exams, and the
    panels of the integrations (Clarius)."""
    if request.institution is None:
        return render(request, "dashboard/no_institution.html")
    days = queries.chart_days()
    per_day = queries.exams_per_day(request, days)
    turnaround, overall = queries.turnaround_per_day(request, days)
    context = {
        "counts": queries.exam_counts(request),
        "exams_chart": bar_chart(
            per_day,
            title="Exams per day",
            description="Exams first submitted each day over the last 30 days.",
            integer=True,
            label=lambda day, n: f"{day:%b %-d}: {n} exam{'' if n == 1 else 's'}",
        ),
        "exams_total": sum(n for _, n in per_day),
        "turnaround_chart": bar_chart(
            [(day, hours(median)) for day, median, _ in turnaround],
            title="Median turnaround",
            description="Median time from submission to signature, by day of signature.",
            fmt=format_hours,
            label=lambda day, h: f"{day:%b %-d}: median {format_hours(h)}",
        ),
        "turnaround_median": format_hours(hours(overall["median"])),
        "signed_total": overall["n"],
        "recent": queries.recent_exams(request),
        "work": queries.work_status(request),
        "members": queries.members_with_link_state(request),
        "is_clinician": queries.is_clinician(request),
        "panels": [(panel, panel.context(request)) for panel in panels.registered()],
    }
    return render(request, "dashboard/home.html", context)


def bad_cursor_page(request, error: BadCursor):
    """400: the page link was not made by the portal (edited, cut, or from an old version)."""
    context = {"reason": str(error), "first_page": request.path + _query(request.GET)}
    return render(request, "dashboard/bad_cursor.html", context, status=400)


def _query(params, **changes) -> str:
    """The current query string with ``changes`` applied (``None`` removes a key)."""
    merged = {k: v for k, v in params.items() if k not in ("after", "before")}
    merged.update(changes)
    return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def page_links(params, page) -> dict:
    first = _query(params)
    links = {"first": first if page.previous_cursor else None, "next": None, "previous": None}
    if page.next_cursor:
        links["next"] = _query(params, after=page.next_cursor)
    if page.previous_cursor:
        links["previous"] = _query(params, before=page.previous_cursor)
    return links
