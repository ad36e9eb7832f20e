"""The Content-Security-Policy: a fresh nonce on every page, and where browsers report.

The policy itself is ``CONTENT_SECURITY_POLICY`` in settings. Pages load scripts and
styles from the portal's own static files only; an inline ``<script>`` or ``<style>``
needs ``nonce="{{ request.csp_nonce }}"``, and ``style="…"`` attributes and ``on…=``
handlers are refused outright. A browser that refuses something posts a report to
:func:`report`, which logs it (masked, capped) so a page broken by the policy is seen.
"""

import logging
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.core.cache import cache
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal import safejson
from portal.log_masking import mask
from portal.text import clean_text

logger = logging.getLogger(__name__)

# A browser's report is well under 2 KiB (URLs, a directive, a 40-character sample); a
# batch of a few from the Reporting API fits too. Anything larger is not a report.
MAX_REPORT_BYTES = 16 * 1024
# Anyone can post here (reports come from the login page as much as any other), so the
# log is capped per directive and hour; the count goes on past the cap.
LOG_LIMIT_PER_HOUR = 50
COUNTER_TTL = 60 * 60
FIELD_LENGTH = 300
REPORT_TYPES = ("application/csp-report", "application/json", "application/reports+json")


class PortalCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with a nonce in every HTML page's policy.

    django-csp adds the nonce only when a template reads ``request.csp_nonce``; minting
    one for every HTML response keeps the header the same shape on every page (the
    admin's and the error pages included), so a template that later needs the nonce
    never meets a policy without it.
    """

    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("text/html"):
            str(request.csp_nonce)
        return super().process_response(request, response)


class BadReport(ValueError):
    """The body is not a CSP violation report."""


def _reports(document) -> list[dict]:
    """The violations in a ``report-uri`` body or a Reporting API batch."""
    if isinstance(document, dict) and isinstance(document.get("csp-report"), dict):
        return [document["csp-report"]]
    if isinstance(document, list) and document:
        bodies = [item.get("body") for item in document if isinstance(item, dict)]
        if len(bodies) == len(document) and all(isinstance(b, dict) for b in bodies):
            return bodies
    raise BadReport("not a CSP violation report")


def _field(report: dict, *names: str) -> str:
    for name in names:
        value = report.get(name)
        if value not in (None, ""):
            return clean_text(value, max_length=FIELD_LENGTH)
    return ""


def _where(uri: str) -> str:
    """A URL without its query and fragment (which may carry tokens), secrets masked."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return mask(uri)
    return mask(parts._replace(query="", fragment="").geturl())


def _record(report: dict) -> None:
    directive = _field(report, "effective-directive", "effectiveDirective")
    directive = directive or _field(report, "violated-directive", "violatedDirective")
    directive = directive.split(" ", 1)[0] or "unknown"
    key = f"csp-violations:{directive[:60]}"
    cache.add(key, 0, timeout=COUNTER_TTL)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        count = 1
        cache.set(key, count, timeout=COUNTER_TTL)
    if count > LOG_LIMIT_PER_HOUR:
        return
    logger.warning(
        "CSP violation #%d this hour: %s refused %s on %s (source %s line %s, sample %r)%s",
        count,
        directive,
        _where(_field(report, "blocked-uri", "blockedURL")) or "inline",
        _where(_field(report, "document-uri", "documentURL")),
        _where(_field(report, "source-file", "sourceFile")) or "-",
        _field(report, "line-number", "lineNumber") or "-",
        _field(report, "script-sample", "sample"),
        "; further ones this hour are counted, not logged" if count == LOG_LIMIT_PER_HOUR else "",
    )


@csrf_exempt
@never_cache
@require_POST
def report(request):
    """Record the violations a browser reports: 204, or 4xx with a reason for anything else."""
    content_type = request.content_type or ""
    if content_type not in REPORT_TYPES:
        return HttpResponse("Expected a CSP report (application/csp-report).", status=415)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponse("Invalid Content-Length.", status=400)
    if declared > MAX_REPORT_BYTES:
        return HttpResponse("Report too large.", status=413)
    body = request.read(MAX_REPORT_BYTES + 1)
    if len(body) > MAX_REPORT_BYTES:
        return HttpResponse("Report too large.", status=413)
    try:
        # A report is an object, or (Reporting API) a list of objects holding one.
        reports = _reports(safejson.loads(body, max_depth=4, duplicates="last"))
    except ValueError:  # safejson.RefusedJSON included
        return HttpResponse("Not a CSP violation report.", status=400)
    for one in reports:
        _record(one)
    return HttpResponse(status=204)
