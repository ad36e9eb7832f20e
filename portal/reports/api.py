"""``POST /api/v1/exams/<id>/reports/``: send a report to Clarius for an exam.

Multipart ``name`` + ``file`` sends a PDF made elsewhere; ``name`` alone generates the
PDF from the exam's signed findings (drawn by the worker: the answer does not wait for
it, and says ``"state": "generating"``). Either becomes a new report version, pushed to
the exam's latest submission in the background. Session (with CSRF) or API key auth, as
the rest of the API; reviewers and administrators only; another institution's exam is
a 404. Anything refused is a 4xx with the reason, and leaves no row and no file.
"""

from django.core.exceptions import PermissionDenied
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.errors import PayloadTooLarge, problem_response
from portal.api.tenancy import InstitutionFromRequestMixin
from portal.reports import issuing
from portal.reports.access import can_review, exam_or_404
from portal.reports.issuing import ReportRefused, issue_generated_report, issue_uploaded_report

# Room for the multipart envelope and the name around a file at the size cap.
BODY_SLACK = 64 * 1024


class ExamReports(InstitutionFromRequestMixin, APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def initial(self, request, *args, **kwargs):
        # Before anything reads the body (the session's CSRF check reads a form's).
        declared = request.META.get("CONTENT_LENGTH") or "0"
        limit = issuing.MAX_UPLOAD_BYTES + BODY_SLACK
        if not (declared.isascii() and declared.isdigit()):
            raise ParseError("The Content-Length header is not a whole number.")
        if len(declared) > 12 or int(declared) > limit:
            raise PayloadTooLarge(
                f"The request is larger than {limit} bytes; a report may be at "
                f"most {issuing.MAX_UPLOAD_BYTES} bytes."
            )
        super().initial(request, *args, **kwargs)

    def post(self, request, pk):
        exam = exam_or_404(request, pk)
        if not can_review(request):
            raise PermissionDenied("Only reviewers and administrators send reports.")
        data = read_data(request)
        name = data.get("name", "")
        if not isinstance(name, str):
            return refused("name", "The name must be text.")
        upload = request.FILES.get("file")
        if upload is None and data.get("file") not in (None, ""):
            return refused("file", "Send the file as a multipart file part, not as text.")
        try:
            if upload is not None:
                report = issue_uploaded_report(exam, request.user, name, upload)
            else:
                report = issue_generated_report(exam, request.user, name)
        except ReportRefused as e:
            if e.field:
                return refused(e.field, str(e))
            return problem_response(400, str(e), request=request)
        return Response(
            {"id": report.pk, "name": report.name, "state": report.state},
            status=status.HTTP_201_CREATED,
        )


def read_data(request) -> dict:
    """The parsed body as a mapping; a body that cannot be one is a 400 with the reason."""
    try:
        data = request.data
    except RecursionError:
        raise ParseError("The JSON is nested too deeply.") from None
    if not hasattr(data, "get"):
        raise ParseError("The body must be a JSON object, or a form.")
    return data


def refused(field, reason):
    """A 400 validation problem naming the field (``portal.api.errors``)."""
    raise ValidationError({field: [reason]})
