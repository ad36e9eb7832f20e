"""QA pages: program (see portal/qa/views_program.py)."""

urlpatterns: list = []
