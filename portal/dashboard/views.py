"""The staff's home page (dashboard) and the worklist.

Both start from ``visible_exams`` (tenant rule, then role rule) and cost a fixed number
of queries whatever the number of exams: aggregates are computed by the database, and
the worklist pages with a keyset instead of counting rows.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.http import urlencode

from portal.dashboard import panels, queries
from portal.dashboard.charts import bar_chart
from portal.dashboard.forms import WorklistFilterForm
from portal.dashboard.paging import BadCursor, paginate
from portal.reports.access import can_review
from portal.tenants.models import Membership
from portal.tenants.scoping import scoped_to_request
from portal.worksheets.models import ExamType


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


@login_required
def worklist(request):
    """Exams to review, filtered, searched, sorted and paged; one query for the page."""
    if request.institution is None:
        return render(request, "dashboard/no_institution.html")
    clinician = queries.is_clinician(request)
    memberships = list(scoped_to_request(Membership, request).select_related("user"))
    exam_types = list(scoped_to_request(ExamType, request).only("code", "name", "is_active"))
    form = WorklistFilterForm(
        request.GET, memberships=memberships, exam_types=exam_types, clinician=clinician
    )
    filters = form.filters()
    annotations, keys = queries.worklist_order(filters["sort"], request.institution)
    exams = queries.worklist_exams(request, filters).annotate(**annotations)
    try:
        page = paginate(
            exams,
            keys,
            size=filters["size"],
            after=request.GET.get("after"),
            before=request.GET.get("before"),
        )
    except BadCursor as error:
        return bad_cursor_page(request, error)
    context = {
        "form": form,
        "page": page,
        "sort": filters["sort"],
        "sort_links": sort_links(request.GET, filters["sort"]),
        "page_links": page_links(request.GET, page),
        "can_review": can_review(request),
        "is_clinician": clinician,
        "filtered": any(k not in ("sort", "size") for k in filters),
    }
    return render(request, "dashboard/worklist.html", context)


def bad_cursor_page(request, error: BadCursor):
    """400: the page link was not made by the portal (edited, cut, or from an old version)."""
    context = {"reason": str(error), "first_page": request.path + _query(request.GET)}
    return render(request, "dashboard/bad_cursor.html", context, status=400)


def _query(params, **changes) -> str:
    """The current query string with ``changes`` applied (``None`` removes a key)."""
    merged = {k: v for k, v in params.items() if k not in ("after", "before")}
    merged.update(changes)
    return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def sort_links(params, current: str) -> dict:
    """For each column: the link that sorts by it (toggling the direction) and its state."""
    links = {}
    for column, first in [("submitted", "-submitted"), ("patient", "patient"), ("state", "state")]:
        active = current.lstrip("-") == column
        target = ("-" + column if current == column else column) if active else first
        direction = ("descending" if current.startswith("-") else "ascending") if active else ""
        links[column] = {"url": _query(params, sort=target), "aria_sort": direction}
    return links


def page_links(params, page) -> dict:
    first = _query(params)
    links = {"first": first if page.previous_cursor else None, "next": None, "previous": None}
    if page.next_cursor:
        links["next"] = _query(params, after=page.next_cursor)
    if page.previous_cursor:
        links["previous"] = _query(params, before=page.previous_cursor)
    return links
