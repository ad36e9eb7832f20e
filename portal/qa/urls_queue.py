"""QA pages: queue (see portal/qa/views_queue.py)."""

urlpatterns: list = []
