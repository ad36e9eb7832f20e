"""The QA API: queue."""

urlpatterns: list = []
