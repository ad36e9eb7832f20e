"""QA pages: queue (see portal/qa/views_queue.py)."""

from django.urls import path

from portal.qa import views_queue

urlpatterns: list = [
    path("", views_queue.queue_page, name="qa-queue"),
    path("assign/", views_queue.assign_view, name="qa-assign"),
    path("reviews/<int:pk>/", views_queue.review_page, name="qa-review"),
    path("exams/<int:pk>/flag/", views_queue.flag_view, name="qa-flag"),
]
