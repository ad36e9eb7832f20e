"""QA pages: setup (see portal/qa/views_setup.py)."""

urlpatterns: list = []
