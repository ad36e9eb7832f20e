"""QA pages: credentialing (see portal/qa/views_credentialing.py)."""

from django.urls import path

from portal.qa import views_credentialing as views

urlpatterns = [
    path("credentialing/", views.credentialing_progress, name="qa-credentialing"),
    path("credentialing/log.csv", views.credentialing_csv, name="qa-credentialing-csv"),
    path(
        "credentialing/<int:user_id>/",
        views.credentialing_member,
        name="qa-credentialing-member",
    ),
    path(
        "credentialing/<int:user_id>/grant/",
        views.grant_credential,
        name="qa-credentialing-grant",
    ),
    path(
        "credentialing/<int:user_id>/revoke/",
        views.revoke_credential,
        name="qa-credentialing-revoke",
    ),
    path(
        "credentialing/<int:user_id>/letter.pdf",
        views.credentialing_letter,
        name="qa-credentialing-letter",
    ),
]
