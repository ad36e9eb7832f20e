"""The administrator's API keys page (staff pages, not the REST API)."""

from django.urls import path

from portal.api import pages

urlpatterns = [
    path("institution/api-keys/", pages.api_key_list, name="api-keys"),
    path("institution/api-keys/<int:pk>/revoke/", pages.api_key_revoke, name="api-key-revoke"),
]
