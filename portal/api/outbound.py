"""An exam's deliveries to the institution's PACS and EHR destinations (``portal.outbound``).

``GET /api/v1/exams/<id>/deliveries/``: per destination and object (an image, a clip, a
research file, a report version), its state in the one retry policy, the UID it has
there and the remote's answer. Scoped as every exam sub-resource: another institution's
exam, or a clinician's view of someone else's, is a 404. Destinations' settings and
secrets are never part of it (an administrator's page has them).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from portal.api.pagination import CursorPagination, integer_key
from portal.api.tenancy import InstitutionFromRequestMixin
from portal.api.views import INSTITUTION_HEADER
from portal.exams.access import visible_exams
from portal.outbound.models import Transmission
from portal.text import clean_text


class DeliveryPagination(CursorPagination):
    page_size = 100
    max_page_size = 500


class OutboundDestinationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="What staff call it (“Main PACS”).")
    kind = serializers.CharField(help_text="The key of its kind: dicom, dicomweb, hl7, fhir…")
    kind_label = serializers.CharField(help_text="The kind in words (“DICOM C-STORE”).")


class CleanText(serializers.CharField):
    def to_representation(self, value):
        return clean_text(value or "", multiline=True)


class OutboundDeliverySerializer(serializers.ModelSerializer):
    destination = OutboundDestinationSerializer()
    capture_id = serializers.IntegerField(
        allow_null=True, help_text="The capture sent (images and clips); null otherwise."
    )
    report_version = serializers.IntegerField(
        source="report.version",
        allow_null=True,
        default=None,
        help_text="The report version sent (reports); null otherwise.",
    )
    result_status = serializers.CharField(
        help_text="Reports: P (preliminary), F (final) or C (corrected); empty otherwise."
    )
    uid = serializers.CharField(
        help_text="What it is called there: its SOP Instance UID or the HL7 message control "
        "ID; empty until sent."
    )
    state = serializers.ChoiceField(
        choices=Transmission.State.choices,
        help_text="pending (sending or waiting to retry), sent, or failed (given up).",
    )
    last_error = CleanText(help_text="The last failure in words; empty when none.")
    remote_answer = CleanText(help_text="What the destination answered last.")

    class Meta:
        model = Transmission
        fields = [
            "id",
            "destination",
            "what",
            "capture_id",
            "report_version",
            "result_status",
            "uid",
            "state",
            "attempts",
            "next_attempt_at",
            "last_error",
            "sent_at",
            "remote_answer",
            "created_at",
        ]


@extend_schema(
    summary="List an exam's deliveries to PACS and EHR destinations",
    description="One row per destination and object (image, clip, research file, report "
    "version), ordered by destination: its state (`pending` while being sent or waiting "
    "to be retried, `sent`, `failed` when given up), attempts, the next attempt, the last "
    "error and the destination's answer, and the UID the object has there. "
    f"{DeliveryPagination.page_size} a page by default. Anyone who can see the exam; "
    "another institution's exam is a 404.",
    parameters=[INSTITUTION_HEADER],
    responses=OutboundDeliverySerializer(many=True),
)
class ExamDeliveries(InstitutionFromRequestMixin, generics.GenericAPIView):
    serializer_class = OutboundDeliverySerializer
    pagination_class = DeliveryPagination
    cursor_keys = [
        integer_key("destination_id", descending=False),
        integer_key("id", descending=False),
    ]

    def get(self, request, pk):
        exam = get_object_or_404(visible_exams(request), pk=pk)
        rows = Transmission.objects.for_institution(request.institution).filter(exam=exam)
        rows = rows.select_related("destination", "report")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
