"""QA pages: calibration (see portal/qa/views_calibration.py)."""

urlpatterns: list = []
