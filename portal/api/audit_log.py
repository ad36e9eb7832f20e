"""``GET /api/v1/audit-log/``: the institution's audit log, for its administrators.

The filters of the audit log page (``kind``, ``action``, ``user``, ``date_from``, ``date_to``, with
the page's own form and query) and a few more (``since``/``until`` timestamps, the
object: ``object_type``, ``object_id``), newest first, as JSON lines (the default,
``application/jsonl``) or CSV (``text/csv``, the page's export): ``?format=jsonl|csv`` or
``Accept``. A filter that is not valid is a 400 with the reason (the page ignores it).

The answer is streamed and bounded: at most ``limit`` events (``MAX_ROWS`` by default and
at most); when there are more, the ``Link`` header's ``rel="next"`` continues where this
answer stops (keyset, so events written meanwhile neither repeat nor vanish). Every
export is itself an event of the log, recorded before the first row leaves.
"""

from __future__ import annotations

import datetime
import json

from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from portal.api.review import problem
from portal.api.serializers import clean_json
from portal.api.tenancy import InstitutionFromRequestMixin
from portal.api.views import timestamp_param
from portal.dashboard.audit_log import csv_rows, filtered_events
from portal.dashboard.forms import AuditFilterForm
from portal.dashboard.paging import BadCursor, SortKey, beyond, decode_cursor, encode_cursor
from portal.exams import audit_display
from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.tenants.models import Membership
from portal.tenants.roles import is_admin
from portal.tenants.scoping import scoped_to_request
from portal.tenants.timezones import zone_of
from portal.text import clean_text

MAX_ROWS = 10_000
KEYS = [
    SortKey("at", True, AuditEvent._meta.get_field("at")),
    SortKey("id", True, AuditEvent._meta.get_field("id")),
]
OBJECT_FIELD_LIMITS = {"object_type": 40, "object_id": 64}


class JSONLinesRenderer(BaseRenderer):
    """One JSON object a line. Only refusals go through ``render`` (as JSON); the rows
    are streamed by the view."""

    media_type = "application/jsonl"
    format = "jsonl"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data, default=str).encode()


class CSVRenderer(JSONLinesRenderer):
    media_type = "text/csv"
    format = "csv"


def event_line(event) -> str:
    document = {
        "id": str(event.id),
        "at": event.at.isoformat(),
        "user": None
        if event.user is None
        else {"id": event.user.pk, "email": clean_text(event.user.email)},
        "action": event.action,
        "description": event.get_action_display(),
        "object_type": clean_text(event.object_type),
        "object_id": clean_text(event.object_id),
        # The exam and patient identifier the event concerns (portal.exams.audit_display).
        "exam": None
        if event.subject.exam_id is None
        else {
            "id": event.subject.exam_id,
            "label": event.subject.exam_label,
            "patient_id": event.subject.patient_id,
        },
        "concerns": event.subject.text,
        "ip_address": event.ip_address,
        "detail": clean_json(event.detail or {}),
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False) + "\n"


def jsonl_rows(events, zone: datetime.tzinfo = datetime.UTC):
    """The lines; times in UTC, an exam's day (its label) in ``zone``, the page's."""
    for event in audit_display.described(events.iterator(chunk_size=2000), zone):
        yield event_line(event)


class AuditLogExport(InstitutionFromRequestMixin, APIView):
    """The institution's audit log, streamed."""

    renderer_classes = [JSONLinesRenderer, CSVRenderer]

    @extend_schema(
        summary="The institution's audit log, filtered, as JSON lines or CSV (administrators)",
        parameters=[
            OpenApiParameter("format", str, enum=["jsonl", "csv"], description="Or Accept."),
            OpenApiParameter("action", str, enum=AuditEvent.Action.values),
            OpenApiParameter(
                "kind",
                str,
                enum=list(audit_display.KINDS),
                description="A kind of action: "
                + "; ".join(f"{key}: {label}" for key, label in audit_display.kind_choices())
                + ".",
            ),
            OpenApiParameter("user", int, description="A member's user id."),
            OpenApiParameter("date_from", str, description="A day, YYYY-MM-DD (inclusive)."),
            OpenApiParameter("date_to", str, description="A day, YYYY-MM-DD (inclusive)."),
            OpenApiParameter("since", str, description="An ISO 8601 time (inclusive)."),
            OpenApiParameter("until", str, description="An ISO 8601 time (exclusive)."),
            OpenApiParameter("object_type", str, description="e.g. exam, report, membership."),
            OpenApiParameter("object_id", str),
            OpenApiParameter("limit", int, description=f"At most {MAX_ROWS} (the default)."),
            OpenApiParameter("cursor", str, description="From the Link header's next."),
        ],
        responses={
            (200, "application/jsonl"): OpenApiResponse(
                OpenApiTypes.STR, description="One event a line."
            ),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="The audit log page's export."
            ),
            **problem(406, "Accept allows neither application/jsonl nor text/csv."),
        },
        tags=["audit log"],
    )
    def get(self, request):
        if not is_admin(request):
            raise Http404("Institution administrators only")
        params = request.query_params
        memberships = scoped_to_request(Membership, request).select_related("user")
        form = AuditFilterForm(params, memberships=memberships)
        if not form.is_valid():
            errors = form.errors.get_json_data()
            raise serializers.ValidationError(
                {field: [e["message"] for e in found] for field, found in errors.items()}
            )
        filters = form.filters()
        events = filtered_events(request, filters)
        shown = {k: str(v) for k, v in filters.items()}
        if since := params.get("since"):
            events = events.filter(at__gte=timestamp_param("since", since))
            shown["since"] = since[:40]
        if until := params.get("until"):
            events = events.filter(at__lt=timestamp_param("until", until))
            shown["until"] = until[:40]
        for name, limit in OBJECT_FIELD_LIMITS.items():
            value = params.get(name)
            if value is None or value == "":
                continue
            if len(value) > limit or "\x00" in value:
                raise serializers.ValidationError(
                    {name: [f"At most {limit} characters, and no NUL characters."]}
                )
            events = events.filter(**{name: value})
            shown[name] = value
        limit = self.limit(params.get("limit"))
        if cursor := params.get("cursor"):
            try:
                events = events.filter(beyond(KEYS, decode_cursor(cursor, KEYS), backwards=False))
            except BadCursor as error:
                raise serializers.ValidationError(
                    {"cursor": [f"{error} Follow the Link header's next as given."]}
                ) from None
        fmt = request.accepted_renderer.format
        # Recorded first, so the export is in the log even if the download is cut short.
        export = audit(
            request,
            AuditEvent.Action.EXPORT_AUDIT_LOG,
            request.institution,
            filters=shown,
            via="api",
            format=fmt,
        )
        # The log as it stood then: the rows streamed and the next link agree, whatever
        # is written while the answer is on its way.
        events = events.filter(at__lte=export.at).order_by(*(key.order_by for key in KEYS))
        boundary = list(events[limit - 1 : limit + 1])
        rows = (
            csv_rows(events[:limit])
            if fmt == "csv"
            else jsonl_rows(events[:limit], zone_of(request.institution))
        )
        response = StreamingHttpResponse(
            rows, content_type=f"{request.accepted_renderer.media_type}; charset=utf-8"
        )
        name = f"audit-log-{request.institution.slug}-{timezone.localdate():%Y%m%d}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        if len(boundary) > 1:
            following = replace_query_param(
                request.build_absolute_uri(), "cursor", encode_cursor(boundary[0], KEYS)
            )
            response["Link"] = f'<{following}>; rel="next"'
        return response

    @staticmethod
    def limit(text) -> int:
        if text is None or text == "":
            return MAX_ROWS
        if not (text.isascii() and text.isdigit()) or len(text) > 9 or not int(text):
            raise serializers.ValidationError(
                {"limit": [f"A number of events from 1 to {MAX_ROWS}."]}
            )
        return min(int(text), MAX_ROWS)
