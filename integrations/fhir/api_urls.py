"""The FHIR view of an exam, under /api/v1/ (see views.py)."""

from django.urls import path

from integrations.fhir import views

urlpatterns = [
    path("exams/<int:pk>/fhir", views.ExamFhir.as_view(), name="exam-fhir"),
]
