"""The Clarius integration's part of the REST API, mounted by the composition root
(``portal/urls.py``) at ``/api/v1/clarius/``, so it is described in the one OpenAPI
document and fuzzed with the rest; the core's API does not know it."""

from django.urls import path

from integrations.clarius import api_views

urlpatterns = [
    path("links/", api_views.LinkList.as_view(), name="api-clarius-links"),
    path("links/<int:pk>/", api_views.LinkDetail.as_view(), name="api-clarius-link"),
]
