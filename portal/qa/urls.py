"""The QA program's pages, under /qa/: one URL module per part of the program."""

from django.urls import include, path

urlpatterns = [
    path("", include("portal.qa.urls_queue")),
    path("", include("portal.qa.urls_setup")),
    path("", include("portal.qa.urls_credentialing")),
    path("", include("portal.qa.urls_calibration")),
    path("", include("portal.qa.urls_program")),
]
