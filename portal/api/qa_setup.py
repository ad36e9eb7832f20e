"""The QA API: setup."""

urlpatterns: list = []
