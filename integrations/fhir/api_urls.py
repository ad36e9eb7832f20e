"""The FHIR view of an exam, under /api/v1/ (see views.py)."""

urlpatterns: list = []
