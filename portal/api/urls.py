from django.urls import include, path

from portal.api import audit_log, exam_types, members, outbound, review, views

urlpatterns = [
    path("exams/", views.ExamList.as_view(), name="api-exam-list"),
    path("exams/<int:pk>/", views.ExamDetail.as_view(), name="api-exam-detail"),
    path("exams/<int:pk>/captures/", views.ExamCaptures.as_view(), name="api-exam-captures"),
    path("captures/<int:pk>/media", views.CaptureMedia.as_view(), name="api-capture-media"),
    # Deliveries to the institution's PACS and EHR destinations (portal.api.outbound).
    path(
        "exams/<int:pk>/deliveries/", outbound.ExamDeliveries.as_view(), name="api-exam-deliveries"
    ),
    # The review of an exam (portal.api.review): the exam page's staff actions.
    path("exams/<int:pk>/findings/", review.ExamFindings.as_view(), name="api-exam-findings"),
    path("exams/<int:pk>/sign/", review.ExamSign.as_view(), name="api-exam-sign"),
    path("exams/<int:pk>/attest/", review.ExamAttest.as_view(), name="api-exam-attest"),
    path("exams/<int:pk>/addenda/", review.ExamAddenda.as_view(), name="api-exam-addenda"),
    path("exams/<int:pk>/assignment/", review.ExamAssignment.as_view(), name="api-exam-assignment"),
    path("exams/<int:pk>/reports/", review.ExamReportVersions.as_view(), name="api-exam-reports"),
    path("reports/<int:pk>/pdf", review.ReportPdf.as_view(), name="api-report-pdf"),
    path("reports/<int:pk>/retry/", review.ReportRetry.as_view(), name="api-report-retry"),
    # Exam types and their worksheets (portal.api.exam_types): administrators write.
    path("exam-types/", exam_types.ExamTypeList.as_view(), name="api-exam-type-list"),
    path(
        "exam-types/<slug:code>/",
        exam_types.ExamTypeDetail.as_view(),
        name="api-exam-type-detail",
    ),
    # The institution's administration (portal.api.members, portal.api.audit_log).
    path("members/", members.MemberList.as_view(), name="api-member-list"),
    path("members/<int:pk>/", members.MemberDetail.as_view(), name="api-member-detail"),
    path("invitations/", members.InvitationList.as_view(), name="api-invitation-list"),
    path("invitations/<int:pk>/", members.InvitationDetail.as_view(), name="api-invitation-detail"),
    path("audit-log/", audit_log.AuditLogExport.as_view(), name="api-audit-log"),
    # The QA program and credentialing (portal.api.qa_urls).
    path("qa/", include("portal.api.qa_urls")),
]
