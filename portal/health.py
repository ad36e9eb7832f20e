"""Liveness and readiness probes for load balancers and orchestrators."""

import logging

from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    """The process is up and serving requests; nothing else is checked."""
    return JsonResponse({"status": "ok"})


def check_database():
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker():
    from django_q.brokers import get_broker

    broker = get_broker()
    if not broker.ping():
        raise ConnectionError("broker did not answer the ping")


CHECKS = {"database": check_database, "broker": check_broker}


@never_cache
@require_GET
def readyz(request):
    """200 when the database and the task broker answer; 503 naming each that does not."""
    results, failing = {}, []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as e:  # noqa: BLE001 - any failure means "not ready"
            logger.warning("readiness check %s failed: %s", name, e)
            results[name] = f"unavailable: {type(e).__name__}"
            failing.append(name)
        else:
            results[name] = "ok"
    if failing:
        return JsonResponse(
            {"status": "unavailable", "failing": failing, "checks": results}, status=503
        )
    return JsonResponse({"status": "ok", "checks": results})


class ProbeMiddleware:
    """Answer ``/healthz`` and ``/readyz`` before host validation and the HTTPS redirect.

    Orchestrators probe containers by IP over plain HTTP, with a Host header that is not
    in ALLOWED_HOSTS; the probes reveal nothing, so they need neither check.
    """

    PROBES = {"/healthz": healthz, "/readyz": readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = self.PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
