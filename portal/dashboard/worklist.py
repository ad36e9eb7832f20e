"""The worklist: exams to review, filtered, sorted and paged; and assigning many at once.

It starts from ``visible_exams`` (tenant rule, then role rule, in ``listing_from``) and
costs a fixed number of queries whatever the number of exams: the page is a keyset
page, the total a count capped at ``COUNT_CAP`` rows, the capture counts a subquery of
the page's own query.

The member's last filters and sort are kept (``Membership.worklist_query``): the
Worklist link, which carries no query, opens on them; "Reset filters" forgets them.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.dashboard.listing import capture_count, listing_from, listing_total, remember
from portal.dashboard.listing import forget as forget_filters
from portal.dashboard.paging import BadCursor, paginate
from portal.dashboard.queries import is_clinician
from portal.dashboard.views import _query, bad_cursor_page, page_links
from portal.exams.access import audit, visible_exams
from portal.exams.models import AuditEvent
from portal.reports.access import can_review
from portal.reports.review import (
    ReviewRefused,
    assign_to,
    check_unassign,
    reviewer_named,
    unassign,
)
from portal.tenants.roles import REVIEWING_ROLES, is_admin


@login_required
def worklist(request):
    if request.institution is None:
        return render(request, "dashboard/no_institution.html")
    if "reset" in request.GET:
        forget_filters(request)
        return redirect("worklist")
    saved = request.membership.worklist_query
    if not request.GET and saved:
        return redirect(reverse("worklist") + "?" + saved)
    listing = listing_from(request, request.GET)
    remember(request, listing)
    try:
        page = paginate(
            listing.exams.annotate(capture_count=capture_count()),
            listing.keys,
            size=listing.filters["size"],
            after=request.GET.get("after"),
            before=request.GET.get("before"),
        )
    except BadCursor as error:
        return bad_cursor_page(request, error)
    reviewer = can_review(request)
    context = {
        "form": listing.form,
        "page": page,
        "sort": listing.sort,
        "sort_words": listing.sort_words,
        "sort_links": sort_links(request.GET, listing.sort),
        "page_links": page_links(request.GET, page),
        "total": listing_total(request, listing),
        "from_query": listing.query,
        "can_review": reviewer,
        "can_assign_others": reviewer and is_admin(request),
        "reviewers": [m for m in listing.memberships if m.role in REVIEWING_ROLES],
        "is_clinician": is_clinician(request),
        "filtered": listing.filtered,
        "saved_filters": bool(request.membership.worklist_query),
    }
    return render(request, "dashboard/worklist.html", context)


def sort_links(params, current: str) -> dict:
    """For each column: the link that sorts by it (toggling the direction) and its state."""
    links = {}
    for column, first in [("submitted", "-submitted"), ("patient", "patient"), ("state", "state")]:
        active = current.lstrip("-") == column
        target = ("-" + column if current == column else column) if active else first
        direction = ("descending" if current.startswith("-") else "ascending") if active else ""
        links[column] = {"url": _query(params, sort=target), "aria_sort": direction}
    return links


# The most exams one bulk action takes: a page of the worklist holds at most 100.
BULK_LIMIT = 100


@login_required
@require_POST
def bulk_assign(request):
    """Assign the ticked exams to me or (administrators) to another reviewer, or unassign
    them; each exam goes through the same rule, event and audit as the exam page's
    "Assign to me", and one that is not allowed is left as it is and counted."""
    if request.institution is None or not can_review(request):
        raise PermissionDenied("Only reviewers and administrators assign exams.")
    action = request.POST.get("action")
    if action not in ("assign_me", "assign_to", "unassign"):
        messages.error(request, "Choose what to do with the ticked exams.")
        return back(request)
    named = _int_or_none(request.POST.get("reviewer")) if action == "assign_to" else None
    if action == "assign_to" and named is None:
        messages.error(request, "Choose the reviewer to assign the exams to.")
        return back(request)
    ids = {int(v) for v in request.POST.getlist("exam")[: BULK_LIMIT + 1] if _is_id(v)}
    if not ids:
        messages.error(request, "Tick the exams first.")
        return back(request)
    if len(ids) > BULK_LIMIT:
        messages.error(request, f"At most {BULK_LIMIT} exams at a time.")
        return back(request)
    # The tenant and role rules: an exam of another institution is not found, as on its page.
    exams = list(visible_exams(request).filter(pk__in=ids).order_by("pk"))
    done, refused = 0, []
    for exam in exams:
        try:
            if action == "unassign":
                check_unassign(exam, request.user, admin=is_admin(request))
                unassign(exam)
                continue_with = None
            else:
                continue_with = reviewer_named(exam, request.user, named, admin=is_admin(request))
                assign_to(exam, continue_with)
        except ReviewRefused as e:
            refused.append(str(e))
            continue
        audit(
            request,
            AuditEvent.Action.ASSIGN_EXAM,
            exam,
            reviewer=continue_with.pk if continue_with else None,
            bulk=True,
        )
        done += 1
    verb = "unassigned" if action == "unassign" else "assigned"
    if done:
        messages.success(request, f"{done} exam{'' if done == 1 else 's'} {verb}.")
    left = len(ids) - done
    if left:
        reason = f" {refused[0]}" if refused else ""
        messages.warning(
            request,
            f"{left} exam{' was' if left == 1 else 's were'} not {verb}.{reason}",
        )
    return back(request)


def back(request):
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return redirect(next_url)
    return redirect("worklist")


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) < 19


def _int_or_none(value):
    return int(value) if value and _is_id(value) else None
