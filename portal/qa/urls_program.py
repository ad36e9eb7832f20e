"""QA pages: program (see portal/qa/views_program.py)."""

from django.urls import path

from portal.qa import views_program

urlpatterns = [
    path("program/", views_program.program, name="qa-program"),
]
