"""QA pages: calibration, outcomes and accuracy (see portal/qa/views_calibration.py)."""

from django.urls import path

from portal.qa import views_calibration as views

urlpatterns = [
    path("calibration/", views.calibration_page, name="qa-calibration"),
    path("accuracy/", views.accuracy_page, name="qa-accuracy"),
    path("accuracy/mine/", views.accuracy_mine, name="qa-accuracy-mine"),
    path("exams/<int:exam_id>/outcome/", views.outcome_page, name="qa-outcome"),
]
