"""The staff's home page (dashboard); the worklist is in ``portal.dashboard.worklist``.

It starts from ``visible_exams`` (tenant rule, then role rule) and costs a fixed number
of queries whatever the number of exams: aggregates are computed by the database.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.http import urlencode

from portal.dashboard.home import home_context
from portal.dashboard.paging import BadCursor


@login_required
def home(request):
    """The current institution at a glance, by role (``portal.dashboard.home``)."""
    if request.institution is None:
        return render(request, "dashboard/no_institution.html")
    return render(request, "dashboard/home.html", home_context(request))


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
