"""``GET /api/v1/exams/<id>/fhir``: one exam as a FHIR R4 Bundle.

The same door as the exam API (``portal.api.views.ExamDetail``): its authentication (an
API key or the session), its permissions (a key's scope), its institution rule
(``InstitutionFromRequestMixin``), its visibility rule (``visible_exams``: the current
institution only, a clinician's own exams only; anything else is a 404) and its audit
(a view of the exam, ``via`` "api_fhir").

The answer is a ``collection`` Bundle, not a ``document``: a document needs a
Composition first and is a signed, unchanging whole, which here the report PDF in
``presentedForm`` already is; the Bundle is the exam's current state, read again each
time, whose resources a client files one by one.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.fhir import bundle
from portal.api.tenancy import InstitutionFromRequestMixin
from portal.api.views import INSTITUTION_HEADER
from portal.exams.access import audit, visible_exams
from portal.exams.models import AuditEvent


class FhirJsonRenderer(JSONRenderer):
    media_type = bundle.CONTENT_TYPE
    format = "fhir"


class AlwaysFhir(BaseContentNegotiation):
    """FHIR's JSON whatever the client accepts (a browser, ``Accept: application/json``):
    there is one representation. Errors keep the API's problem documents."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema(
    summary="Read an exam as FHIR R4",
    description="The exam as a FHIR R4 `collection` Bundle (`application/fhir+json`): the "
    "Patient, the ImagingStudy (its Study, Series and SOP Instance UIDs are those of the "
    "DICOM objects sent to a PACS), and once a report version exists the "
    "DiagnosticReport (status `preliminary` while awaiting attestation, `amended` after "
    "an addendum or a replacing version, else `final`; the PDF as `presentedForm`) with "
    "one Observation per structured worksheet answer. Audited as a view of the exam.",
    parameters=[INSTITUTION_HEADER],
    responses={
        (200, bundle.CONTENT_TYPE): OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="A FHIR R4 Bundle of type collection.",
            examples=[
                OpenApiExample(
                    "Bundle",
                    value={
                        "resourceType": "Bundle",
                        "type": "collection",
                        "entry": [
                            {
                                "fullUrl": "urn:uuid:…",
                                "resource": {"resourceType": "Patient"},
                            }
                        ],
                    },
                )
            ],
        ),
        404: OpenApiResponse(description="No such exam in the current institution."),
    },
)
class ExamFhir(InstitutionFromRequestMixin, APIView):
    renderer_classes = [FhirJsonRenderer]
    content_negotiation_class = AlwaysFhir

    def get(self, request, pk):
        exam = get_object_or_404(
            visible_exams(request).select_related(
                "institution", "patient", "exam_type", "operator"
            ),
            pk=pk,
        )
        data = bundle.collection(exam)
        audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="api_fhir")
        return Response(data, content_type=bundle.CONTENT_TYPE)
