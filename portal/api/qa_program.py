"""The QA API: program."""

urlpatterns: list = []
