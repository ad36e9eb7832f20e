"""QA pages: setup (see portal/qa/views_setup.py)."""

from django.urls import path

from portal.qa import views_setup

urlpatterns = [
    path("settings/", views_setup.qa_settings, name="qa-settings"),
]
