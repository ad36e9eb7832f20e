"""The portal's URLs and error handlers, with three addresses that fail on purpose (for
tests/test_error_pages.py)."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from portal.urls import handler404
from portal.urls import urlpatterns as portal_urlpatterns


def forbidden(request):
    raise PermissionDenied("not for you")


def crash(request):
    raise RuntimeError("boom")


urlpatterns = [
    *portal_urlpatterns,
    path("test-errors/403/", forbidden),
    path("test-errors/500/", crash),
]

__all__ = ["handler404", "urlpatterns"]
