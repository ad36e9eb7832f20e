from django.urls import path

from integrations.clarius import views
from integrations.clarius.ingestion import webhooks
from integrations.clarius.research import views as research_views

urlpatterns = [
    path("connect/<str:token>/", views.connect, name="clarius-connect"),
    path("link/", views.link, name="clarius-link"),
    path("links/", views.my_links, name="clarius-my-links"),
    path("links.json", views.my_links_json, name="clarius-my-links-json"),
    path("links/<int:pk>/unlink/", views.unlink_mine, name="clarius-unlink"),
    path("institution-links/", views.institution_links, name="clarius-institution-links"),
    path(
        "institution-links/<int:pk>/unlink/",
        views.unlink_in_institution,
        name="clarius-institution-unlink",
    ),
    path("notifications/<str:secret>/", webhooks.notification, name="clarius-notifications"),
    # Research API: the member's research login, and an exam's raw data and DICOM.
    path("research/", research_views.research_account, name="clarius-research"),
    path(
        "research/disconnect/",
        research_views.research_disconnect,
        name="clarius-research-disconnect",
    ),
    path("exams/<int:pk>/research/raw-data/", research_views.raw_data, name="clarius-raw-data"),
    path(
        "exams/<int:pk>/research/raw-data/<uuid:capture_uuid>/fetch/",
        research_views.raw_data_fetch,
        name="clarius-raw-data-fetch",
    ),
    path(
        "exams/<int:pk>/research/raw-data/files/<int:file_pk>/",
        research_views.raw_data_file,
        name="clarius-raw-data-file",
    ),
    path("exams/<int:pk>/research/dicom/", research_views.dicom, name="clarius-dicom"),
    path(
        "exams/<int:pk>/research/dicom/<int:export_pk>/download/",
        research_views.dicom_download,
        name="clarius-dicom-download",
    ),
]
