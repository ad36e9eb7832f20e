"""The institution's audit log, for its administrators: a filtered page and a CSV export.

The export is streamed row by row (the log grows without bound) and is itself recorded
in the log, with the filters used, before the first row leaves. Each row names the exam and patient
identifier it concerns (``portal.exams.audit_display``). Its times are ISO 8601
with the offset of the institution's zone, which its ``time_zone`` column names (the
API's export stays in UTC, as the API does).
"""

import csv
import datetime
import json
from datetime import timedelta

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from portal.dashboard.forms import AuditFilterForm
from portal.dashboard.paging import BadCursor, SortKey, paginate
from portal.dashboard.queries import start_of_day
from portal.dashboard.views import bad_cursor_page, page_links
from portal.exams import audit_display
from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.tenants.models import Membership
from portal.tenants.roles import admin_required
from portal.tenants.scoping import scoped_to_request
from portal.tenants.timezones import iso_local, zone_of
from portal.text import clean_text

PAGE_SIZE = 50
KEYS = [
    SortKey("at", True, AuditEvent._meta.get_field("at")),
    SortKey("id", True, AuditEvent._meta.get_field("id")),
]
CSV_HEADER = [
    "time",
    "user",
    "action",
    "description",
    "object_type",
    "object_id",
    "exam_id",
    "concerns",
    "ip_address",
    "detail",
    "time_zone",
]
# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# No cell of the export is longer (an event's detail is small; this only bounds a bad one).
CSV_CELL_LENGTH = 10_000


def filtered_events(request, filters: dict):
    events = scoped_to_request(AuditEvent, request).select_related("user")
    if filters.get("user"):
        events = events.filter(user_id=filters["user"])
    if filters.get("kind"):
        events = events.filter(action__in=audit_display.actions_of_kind(filters["kind"]))
    if filters.get("action"):
        events = events.filter(action=filters["action"])
    if filters.get("date_from"):
        events = events.filter(at__gte=start_of_day(filters["date_from"]))
    if filters.get("date_to"):
        events = events.filter(at__lt=start_of_day(filters["date_to"] + timedelta(days=1)))
    return events


def _form(request):
    memberships = scoped_to_request(Membership, request).select_related("user")
    return AuditFilterForm(request.GET, memberships=memberships)


@admin_required
def audit_log(request):
    form = _form(request)
    events = filtered_events(request, form.filters())
    try:
        page = paginate(
            events,
            KEYS,
            size=PAGE_SIZE,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
        )
    except BadCursor as error:
        return bad_cursor_page(request, error)
    export = request.GET.copy()
    for key in ("after", "before"):
        export.pop(key, None)
    audit_display.describe(page.rows)
    context = {
        "form": form,
        "page": page,
        "page_links": page_links(request.GET, page),
        "export_query": export.urlencode(),
    }
    return render(request, "dashboard/audit_log.html", context)


class Echo:
    """A file-like object for ``csv.writer`` that hands each line back instead of keeping it."""

    def write(self, value):
        return value


def safe_cell(value) -> str:
    # Controls and bidi overrides go first, so none can hide a formula's first character.
    text = clean_text(value, max_length=CSV_CELL_LENGTH)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_rows(events, zone: datetime.tzinfo = datetime.UTC):
    """The CSV lines; times in ``zone`` (passed, not the current one: the response is
    streamed after the request's zone is no longer active)."""
    zone_name = getattr(zone, "key", None) or str(zone)
    writer = csv.writer(Echo())
    yield writer.writerow(CSV_HEADER)
    for event in audit_display.described(events.iterator(chunk_size=2000), zone):
        row = [
            iso_local(event.at, zone, timespec="auto"),
            event.user.email if event.user else "",
            event.action,
            event.get_action_display(),
            event.object_type,
            event.object_id,
            event.subject.exam_id or "",
            event.subject.text,
            event.ip_address or "",
            json.dumps(event.detail, sort_keys=True) if event.detail else "",
            zone_name,
        ]
        yield writer.writerow([safe_cell(cell) for cell in row])


@admin_required
def audit_log_csv(request):
    filters = _form(request).filters()
    events = filtered_events(request, filters).order_by("-at", "-id")
    # Recorded first, so the export is in the log even if the download is cut short.
    shown = {k: str(v) for k, v in filters.items()}
    audit(request, AuditEvent.Action.EXPORT_AUDIT_LOG, request.institution, filters=shown)
    name = f"audit-log-{request.institution.slug}-{timezone.localdate():%Y%m%d}.csv"
    rows = csv_rows(events, zone_of(request.institution))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
