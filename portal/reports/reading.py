"""Reading through a worklist from the exam page: previous / next, "Sign and next".

The exam page is opened from the worklist with the worklist's query string in ``from``
(``/exams/12/?from=review_state%3Dnew%26sort%3Dpatient``); without one, the member's
saved worklist (``Membership.worklist_query``) is the list. The neighbours are computed
by ``portal.dashboard.listing`` with the same filters and keyset order as the worklist.
``from`` is untrusted: an invalid filter in it is dropped, as on the worklist itself.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode

from portal.dashboard.listing import MAX_QUERY_LENGTH, listing_from, neighbours, next_to_review


def from_of(request) -> str:
    """The worklist query the page was opened with (GET, or a form's hidden ``from``);
    else the member's saved one."""
    raw = request.POST.get("from") if request.method == "POST" else None
    if raw is None:
        raw = request.GET.get("from")
    if raw is None:
        membership = getattr(request, "membership", None)
        raw = membership.worklist_query if membership is not None else ""
    return raw if len(raw) <= MAX_QUERY_LENGTH else ""


def exam_url(pk: int, query: str, anchor: str = "") -> str:
    url = reverse("exam-detail", args=[pk])
    if query:
        url += "?" + urlencode({"from": query})
    return url + anchor


def worklist_url(query: str) -> str:
    # An explicit (even empty) filter: "?sort=-submitted" rather than the saved one.
    return reverse("worklist") + "?" + (query or "sort=-submitted")


def reading_nav(request, exam) -> dict | None:
    """Where the exam stands in the worklist it was opened from: previous and next links,
    "Exam 3 of 41" when the list is short enough to count."""
    if getattr(request, "institution", None) is None:
        return None
    listing = listing_from(request, from_of(request))
    found = neighbours(listing, exam)
    query = listing.query
    return {
        "from": query,
        "worklist_url": worklist_url(query),
        "previous_url": exam_url(found.previous, query) if found.previous else None,
        "next_url": exam_url(found.next, query) if found.next else None,
        "position": found.position,
        "total": found.total,
    }


def next_exam_url(request, exam) -> str | None:
    """The next exam of the same list that still needs a signature, or ``None``."""
    listing = listing_from(request, from_of(request))
    pk = next_to_review(listing, exam)
    return exam_url(pk, listing.query) if pk else None


def list_url(request) -> str:
    return worklist_url(listing_from(request, from_of(request)).query)
