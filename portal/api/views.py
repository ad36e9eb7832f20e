import uuid
from datetime import UTC

from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.serializers import (
    CAPTURE_ORDER,
    EMBEDDED_CAPTURES,
    EMBEDDED_CAPTURES_IN_LIST,
    CaptureSerializer,
    ExamSerializer,
)
from portal.api.tenancy import InstitutionFromRequestMixin
from portal.exams.access import audit, visible_captures, visible_exams
from portal.exams.models import AuditEvent, Capture, Exam
from portal.exams.serving import media_response


class ReasonedPagination(PageNumberPagination):
    """DRF's page numbers, but a page that is not one of the list is a 400 with the
    reason, as every other malformed query parameter is, rather than a bare 404."""

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise serializers.ValidationError(
                {"page": "not a page of this list: a number from 1 to the last page, or 'last'"}
            ) from None


class ExamPagination(ReasonedPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class CapturePagination(ReasonedPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


def exam_queryset(request, *, embedded_captures=EMBEDDED_CAPTURES):
    """Visible exams with what their documents need, each with only its first
    ``embedded_captures`` captures (one windowed query for the whole page) and the count."""
    first_captures = Capture.objects.order_by(*CAPTURE_ORDER)[:embedded_captures]
    count = (
        Capture.objects.filter(exam=OuterRef("pk"))
        .order_by()
        .values("exam")
        .annotate(n=Count("*"))
        .values("n")
    )
    return (
        visible_exams(request)
        .select_related("operator", "patient")
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


class ExamList(InstitutionFromRequestMixin, generics.ListAPIView):
    """The current institution's exams, newest first; filters status, exam_uuid, submitted_after."""

    serializer_class = ExamSerializer
    pagination_class = ExamPagination

    def get_queryset(self):
        exams = exam_queryset(self.request, embedded_captures=EMBEDDED_CAPTURES_IN_LIST)
        params = self.request.query_params
        if status := params.get("status"):
            if status not in Exam.Status.values:
                raise serializers.ValidationError(
                    {"status": f"choose one of: {', '.join(Exam.Status.values)}"}
                )
            exams = exams.filter(status=status)
        if exam_uuid := params.get("exam_uuid"):
            try:
                exams = exams.filter(exam_uuid=uuid.UUID(exam_uuid))
            except ValueError:
                raise serializers.ValidationError({"exam_uuid": "not a UUID"}) from None
        if submitted_after := params.get("submitted_after"):
            moment = timestamp_param("submitted_after", submitted_after)
            exams = exams.filter(last_submitted_at__gt=moment)
        return exams


class ExamDetail(InstitutionFromRequestMixin, generics.RetrieveAPIView):
    serializer_class = ExamSerializer

    def get_queryset(self):
        return exam_queryset(self.request)

    def retrieve(self, request, *args, **kwargs):
        exam = self.get_object()
        audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="api")
        return Response(self.get_serializer(exam).data)


class ExamCaptures(InstitutionFromRequestMixin, generics.GenericAPIView):
    """All the captures of one exam, a page at a time, in the order they were submitted."""

    serializer_class = CaptureSerializer
    pagination_class = CapturePagination

    def get(self, request, pk):
        exam = get_object_or_404(visible_exams(request), pk=pk)
        page = self.paginate_queryset(exam.captures.order_by(*CAPTURE_ORDER))
        audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="api_captures")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class CaptureMedia(InstitutionFromRequestMixin, APIView):
    """The bytes of one capture, with its content type; every access is audited."""

    def get(self, request, pk):
        capture = visible_captures(request).filter(pk=pk, state=Capture.State.DONE).first()
        if capture is None:
            raise Http404("No such capture")
        audit(request, AuditEvent.Action.OPEN_MEDIA, capture, via="api")
        return media_response(capture, request)
