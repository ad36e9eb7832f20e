"""The QA API: calibration."""

urlpatterns: list = []
