from django.urls import path

from portal.reports import downloads, media_progress, views

urlpatterns = [
    path("exams/<int:pk>/", views.exam_detail, name="exam-detail"),
    path("exams/<int:pk>/assign/", views.exam_assign, name="exam-assign"),
    path("exams/<int:pk>/findings/", views.findings_save, name="exam-findings"),
    path("exams/<int:pk>/findings/impression/", views.findings_impression, name="exam-impression"),
    path("exams/<int:pk>/findings/review/", views.findings_review, name="exam-review"),
    path("exams/<int:pk>/sign/", views.findings_sign, name="exam-sign"),
    path("exams/<int:pk>/attest/", views.findings_attest, name="exam-attest"),
    path("exams/<int:pk>/addenda/", views.addendum_add, name="exam-addendum"),
    path("exams/<int:pk>/reports.json", views.exam_reports_json, name="exam-reports-json"),
    path("exams/<int:pk>/media.json", media_progress.exam_media_json, name="exam-media-json"),
    path(
        "exams/<int:pk>/reports/<int:report_id>/retry/",
        views.report_retry,
        name="report-retry",
    ),
    path(
        "exams/<int:pk>/reports/<int:report_id>/pdf",
        downloads.report_download,
        name="report-download",
    ),
    path(
        "exams/<int:pk>/captures/<int:capture_id>/",
        downloads.capture_media,
        name="exam-capture",
    ),
    path(
        "exams/<int:pk>/captures/<int:capture_id>/thumbnail",
        downloads.capture_thumbnail,
        name="exam-capture-thumbnail",
    ),
]
