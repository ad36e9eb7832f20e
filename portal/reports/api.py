"""``POST /api/v1/exams/<id>/reports/``: send a report to Clarius for an exam.

Multipart ``name`` + ``file`` sends a PDF made elsewhere; ``name`` alone generates the
PDF from the exam's signed findings. Either becomes a new report version, pushed to the
exam's latest submission in the background. Session (with CSRF) or token auth, as the
rest of the API; reviewers and administrators only; another institution's exam is a 404.
"""

from django.core.exceptions import PermissionDenied
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.tenancy import InstitutionFromRequestMixin
from portal.reports.access import can_review, exam_or_404
from portal.reports.issuing import ReportRefused, issue_generated_report, issue_uploaded_report

NAME_LIMIT = 200


class ExamReports(InstitutionFromRequestMixin, APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def post(self, request, pk):
        exam = exam_or_404(request, pk)
        if not can_review(request):
            raise PermissionDenied("Only reviewers and administrators send reports.")
        name = str(request.data.get("name", "")).strip()
        if not name:
            return refused("name", "A report needs a name.")
        if len(name) > NAME_LIMIT:
            return refused("name", f"A report name has at most {NAME_LIMIT} characters.")
        upload = request.FILES.get("file")
        try:
            if upload is not None:
                report = issue_uploaded_report(exam, request.user, name, upload)
            else:
                report = issue_generated_report(exam, request.user, name)
        except ReportRefused as e:
            return Response({"detail": str(e)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {"id": report.pk, "name": report.name, "state": report.state},
            status=status.HTTP_201_CREATED,
        )


def refused(field, reason):
    return Response({field: [reason]}, status=status.HTTP_400_BAD_REQUEST)
