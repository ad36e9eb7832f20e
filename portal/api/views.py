import re
import uuid
from datetime import UTC

from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.errors import problem_response
from portal.api.pagination import CursorPagination, integer_key
from portal.api.review import problem
from portal.api.serializers import (
    CAPTURE_ORDER,
    EMBEDDED_CAPTURES,
    EMBEDDED_CAPTURES_IN_LIST,
    CaptureSerializer,
    ExamSerializer,
)
from portal.api.tenancy import HEADER, InstitutionFromRequestMixin
from portal.dashboard import queries
from portal.dashboard.forms import WorklistFilterForm
from portal.exams.access import audit, visible_captures, visible_exams
from portal.exams.captures import shown
from portal.exams.models import AuditEvent, Capture, Exam
from portal.exams.serving import media_response
from portal.retention.notice import removed_message
from portal.tenants.models import Membership
from portal.tenants.scoping import scoped_to_request


class ExamPagination(CursorPagination):
    page_size = 50
    max_page_size = 200


class CapturePagination(CursorPagination):
    page_size = 100
    max_page_size = 500


def exam_queryset(request, *, embedded_captures=EMBEDDED_CAPTURES, exams=None):
    """Visible exams (or ``exams``, already narrowed from them) with what their documents
    need, each with only its first ``embedded_captures`` captures (one windowed query for
    the whole page) and the count."""
    first_captures = shown(Capture.objects.order_by(*CAPTURE_ORDER))[:embedded_captures]
    count = (
        shown(Capture.objects.filter(exam=OuterRef("pk")))
        .order_by()
        .values("exam")
        .annotate(n=Count("*"))
        .values("n")
    )
    if exams is None:
        exams = visible_exams(request)
    return (
        exams.select_related("operator", "patient", "exam_type")
        .prefetch_related(
            Prefetch("captures", queryset=first_captures, to_attr="embedded_captures"),
            "submissions",
            "reports",
        )
        .annotate(captures_count=Coalesce(Subquery(count), 0))
        .order_by("-last_submitted_at", "-id")
    )


def timestamp_param(name: str, text: str):
    """A query parameter's ISO 8601 timestamp, in UTC; a 400 with the reason otherwise.

    In UTC before it reaches the database: an offset such as -23:59 at the end of the
    calendar overflows Python's conversion (SQLite) or PostgreSQL's range of offsets.
    A naive timestamp is read in the current time zone, as Django would.
    """
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise serializers.ValidationError({name: "not an ISO 8601 timestamp"})
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise serializers.ValidationError(
            {name: "out of range: a timestamp between the years 1 and 9999 in UTC"}
        ) from None


# Query parameters of the exam list read by the worklist's form (its names, its rules).
WORKLIST_PARAMS = (
    "q",
    "review_state",
    "operator",
    "reviewer",
    "submitted_from",
    "submitted_to",
    "sort",
)


EXAM_TYPE_CODE = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")  # a SlugField of 40


def exam_filters(request) -> dict:
    """The list's filters, as the worklist reads them; every malformed one is a 400."""
    params = request.query_params
    errors, filters = {}, {}
    if exam_type := params.get("exam_type"):
        # Matched in the list's own query (no look-up of the types: a page costs the same
        # queries with or without it); a code that is none of the institution's finds none.
        if exam_type == "none" or EXAM_TYPE_CODE.match(exam_type):
            filters["exam_type"] = exam_type
        else:
            errors["exam_type"] = "an exam type's code (GET /api/v1/exam-types/), or none"
    if status := params.get("status"):
        if status in Exam.Status.values:
            filters["status"] = status
        else:
            errors["status"] = f"choose one of: {', '.join(Exam.Status.values)}"
    data = QueryDict(mutable=True)
    for name in WORKLIST_PARAMS:
        if name in params:
            data[name] = params[name]
    memberships = []
    if data.get("operator") or data.get("reviewer") not in (None, "", "me", "none"):
        memberships = list(scoped_to_request(Membership, request).select_related("user"))
    form = WorklistFilterForm(
        data, memberships=memberships, clinician=queries.is_clinician(request)
    )
    if not form.is_valid():
        errors.update({name: list(messages) for name, messages in form.errors.items()})
    if errors:
        raise serializers.ValidationError(errors)
    return {**form.filters(), **filters}


def query(name, description, type_=str, **kwargs):
    return OpenApiParameter(name, type_, OpenApiParameter.QUERY, description=description, **kwargs)


INSTITUTION_HEADER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="Work in another of your institutions (its slug; a session only: an API "
    "key works in its own institution). One that is not yours is a 403.",
)
MEMBER = "a member's user id"
EXAM_FILTERS = [
    query("status", "Ingestion state.", enum=Exam.Status.values),
    query("review_state", "Review state.", enum=Exam.ReviewState.values),
    query(
        "exam_type",
        "Exam type: its code (`GET /exam-types/`), or `none` for exams without one.",
        str,
    ),
    query("exam_uuid", "Clarius's exam UUID.", OpenApiTypes.UUID),
    query("operator", f"Who performed the exam: {MEMBER}.", int),
    query("reviewer", f"Assignee: `me`, `none` (unassigned) or {MEMBER}.", str),
    query("submitted_from", "Last submitted on or after this day.", OpenApiTypes.DATE),
    query("submitted_to", "Last submitted on or before this day.", OpenApiTypes.DATE),
    query("submitted_after", "Last submitted after this moment (ISO 8601).", OpenApiTypes.DATETIME),
    query("q", "Patient search: every word in the identifier or a name.", str),
    query(
        "sort",
        "The order; newest submission first by default.",
        enum=list(queries.SORTS),
        default=queries.DEFAULT_SORT,
    ),
]


@extend_schema(
    summary="List exams",
    description="The current institution's exams (a clinician's own), filtered and sorted "
    "as the worklist is, a page at a time (follow `next`). Each embeds its first "
    f"{EMBEDDED_CAPTURES_IN_LIST} captures with `captures_count` and `captures_url`. "
    "A malformed filter or cursor is a 400 naming it.",
    parameters=[*EXAM_FILTERS, INSTITUTION_HEADER],
)
class ExamList(InstitutionFromRequestMixin, generics.ListAPIView):
    """The current institution's exams (a clinician's own), with the worklist's filters
    and sorts, a page at a time."""

    serializer_class = ExamSerializer
    pagination_class = ExamPagination

    def get_queryset(self):
        filters = exam_filters(self.request)
        exams = queries.worklist_exams(self.request, filters)
        params = self.request.query_params
        if exam_uuid := params.get("exam_uuid"):
            try:
                exams = exams.filter(exam_uuid=uuid.UUID(exam_uuid))
            except ValueError:
                raise serializers.ValidationError({"exam_uuid": "not a UUID"}) from None
        if submitted_after := params.get("submitted_after"):
            moment = timestamp_param("submitted_after", submitted_after)
            exams = exams.filter(last_submitted_at__gt=moment)
        annotations, self.keys = queries.worklist_order(filters["sort"], self.request.institution)
        exams = exam_queryset(
            self.request, embedded_captures=EMBEDDED_CAPTURES_IN_LIST, exams=exams
        )
        return exams.annotate(**annotations)

    def get_cursor_keys(self):
        return self.keys


@extend_schema(
    summary="Read an exam",
    description=f"One exam with its first {EMBEDDED_CAPTURES} captures, `captures_count` "
    "and `captures_url`. Audited as a view of the exam.",
    parameters=[INSTITUTION_HEADER],
)
class ExamDetail(InstitutionFromRequestMixin, generics.RetrieveAPIView):
    serializer_class = ExamSerializer

    def get_queryset(self):
        return exam_queryset(self.request)

    def retrieve(self, request, *args, **kwargs):
        exam = self.get_object()
        audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="api")
        return Response(self.get_serializer(exam).data)


@extend_schema(
    summary="List an exam's captures",
    description="Every capture of the exam, in the order they were submitted, "
    f"{CapturePagination.page_size} a page by default. Audited as a view of the exam.",
    parameters=[INSTITUTION_HEADER],
    responses=CaptureSerializer(many=True),
)
class ExamCaptures(InstitutionFromRequestMixin, generics.GenericAPIView):
    """All the captures of one exam, a page at a time, in the order they were submitted."""

    serializer_class = CaptureSerializer
    pagination_class = CapturePagination
    cursor_keys = [
        integer_key("submission_id", descending=False),
        integer_key("position", descending=False),
        integer_key("id", descending=False),
    ]

    def get(self, request, pk):
        exam = get_object_or_404(visible_exams(request), pk=pk)
        page = self.paginate_queryset(shown(exam.captures.all()))
        audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="api_captures")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema(
    summary="Download a capture",
    description="The bytes of a downloaded capture, with its content type. One byte range "
    "(`Range: bytes=a-b`) answers 206, so clips can be seeked. Audited.",
    parameters=[
        INSTITUTION_HEADER,
        OpenApiParameter(
            "Range", str, OpenApiParameter.HEADER, description="One byte range, e.g. bytes=0-1023."
        ),
    ],
    responses={
        (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The bytes."),
        (206, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The range asked for."),
        **problem(410, "The media was removed by the institution's retention policy."),
        416: OpenApiResponse(description="The range starts at or past the end."),
    },
)
class CaptureMedia(InstitutionFromRequestMixin, APIView):
    """The bytes of one capture, with its content type; every access is audited."""

    def get(self, request, pk):
        capture = visible_captures(request).filter(pk=pk, state=Capture.State.DONE).first()
        if capture is None:
            raise Http404("No such capture")
        if capture.media_purged_at is not None:
            # Removed by the retention policy (portal.retention): gone for good.
            return problem_response(410, removed_message(capture), request=request)
        audit(request, AuditEvent.Action.OPEN_MEDIA, capture, via="api")
        return media_response(capture, request)
