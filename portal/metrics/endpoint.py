"""``/metrics``: the Prometheus text format, for a scraper holding the token.

``PORTAL_METRICS_TOKEN`` set: the scraper sends ``Authorization: Bearer <token>``
(compared in constant time); anything else is a 401. Not set: ``/metrics`` is off (404),
unless ``PORTAL_METRICS_ALLOW_LOCAL=1`` and the request comes straight from loopback
(not through a proxy on the same machine, which would make every visitor local). No
login session is involved either way.

Answered by a middleware near the top, like the health probes: a scraper on the
internal network asks by IP or container name over plain HTTP, which host validation
and the HTTPS redirect would refuse.
"""

from __future__ import annotations

import ipaddress
import os

from django.conf import settings
from django.http import HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from portal.metrics.collector import PortalCollector

PATH = "/metrics"
# The classic text format, which every Prometheus version reads (generate_latest writes it).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Set by a reverse proxy: a request carrying one did not come from loopback itself.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")

_portal = CollectorRegistry(auto_describe=False)
_portal.register(PortalCollector())


def is_loopback(request) -> bool:
    if any(request.META.get(h) for h in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "").is_loopback
    except ValueError:
        return False


def refusal(request) -> HttpResponse | None:
    """The answer for a request that may not read the metrics, or ``None``."""
    token = settings.PORTAL_METRICS_TOKEN
    if token:
        scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "bearer" and constant_time_compare(given.strip(), token):
            return None
        response = HttpResponse("A valid bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    if settings.PORTAL_METRICS_ALLOW_LOCAL and is_loopback(request):
        return None
    return HttpResponse("Not Found\n", status=404, content_type="text/plain; charset=utf-8")


def exposition() -> bytes:
    """This process's request metrics (or every process's, in multiprocess mode), then
    the portal's own, read from the database."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
        own = generate_latest(processes)
    else:
        own = generate_latest(REGISTRY)
    return own + generate_latest(_portal)


@never_cache
@require_GET
def metrics(request):
    refused = refusal(request)
    if refused is not None:
        return refused
    return HttpResponse(exposition(), content_type=CONTENT_TYPE)


class MetricsMiddleware:
    """Answer ``/metrics`` before host validation and the HTTPS redirect (see above)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == PATH:
            return metrics(request)
        return self.get_response(request)
