"""The QA program's API, under /api/v1/qa/: one module per part of the program."""

from django.urls import include, path

urlpatterns = [
    path("", include("portal.api.qa_queue")),
    path("", include("portal.api.qa_setup")),
    path("", include("portal.api.qa_credentialing")),
    path("", include("portal.api.qa_calibration")),
    path("", include("portal.api.qa_program")),
]
