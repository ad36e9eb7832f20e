"""Every API error in one shape: RFC 9457 problem details (``application/problem+json``).

A problem is a JSON object with ``type`` (a URI naming the kind of problem, under
``/api/problems/``), ``title`` (the same for every problem of that type), ``status`` (the
HTTP status), ``detail`` (the reason, for this request) and, for input that did not
validate, ``errors``: one ``{"field": ..., "detail": ...}`` per refused field or query
parameter (a field is left out for an error about the request as a whole).

Views raise exceptions and the handler below (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``)
writes the answer: DRF's own (``ValidationError``, ``PermissionDenied``, ``NotFound``,
``Throttled`` with ``Retry-After``, ...), Django's ``Http404``/``PermissionDenied``, and
the ones here that DRF lacks: ``Conflict`` (409), ``PreconditionFailed`` (412),
``PreconditionRequired`` (428), ``PayloadTooLarge`` (413). A view that must answer
without raising returns ``problem_response(...)``.

Missing or invalid credentials are a 401 with ``WWW-Authenticate: Bearer realm="api"``
(DRF would answer 403 because session authentication comes first and sends no
challenge). Django refuses some bodies while reading them (``RequestDataTooBig``,
``TooManyFieldsSent``, ``TooManyFilesSent``, all ``SuspiciousOperation``); outside DRF
they become Django's HTML 400 page, here a 413 or 400 problem with the reason.
"""

from __future__ import annotations

import json

from django.core.exceptions import (
    PermissionDenied as DjangoPermissionDenied,
)
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEMS_PATH = "/api/problems/"
AUTHENTICATE = 'Bearer realm="api"'

# status -> (type slug, title): the problem type of an exception that names none.
BY_STATUS = {
    400: ("bad-request", "The request is not valid"),
    401: ("not-authenticated", "Authentication is needed"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "No acceptable representation"),
    409: ("conflict", "Conflict with the current state"),
    410: ("gone", "Removed for good"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("too-large", "The request is too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    416: ("range-not-satisfiable", "Range not satisfiable"),
    428: ("precondition-required", "A precondition is required"),
    429: ("throttled", "Too many requests"),
}
VALIDATION = ("invalid-input", "The input did not validate")
# Every problem type the API answers with (the reference documents them).
PROBLEM_TYPES = dict([VALIDATION, *BY_STATUS.values()])


def problem_type_uri(slug: str, request=None) -> str:
    path = f"{PROBLEMS_PATH}{slug}"
    return request.build_absolute_uri(path) if request is not None else path


# --- Exceptions DRF lacks (raise them from any API view) --------------------------------


class Conflict(exceptions.APIException):
    """409: the request conflicts with the resource's current state (already signed, ...)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    """412: an ``If-Match`` (or other precondition) did not hold: the resource changed."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you read it; read it again and retry."
    default_code = "precondition_failed"


class PreconditionRequired(exceptions.APIException):
    """428: the change needs a precondition (``If-Match``) the request did not send."""

    status_code = 428
    default_detail = "Send the If-Match header with the ETag of the resource you read."
    default_code = "precondition_required"


class PayloadTooLarge(exceptions.APIException):
    """413: the body is larger than the portal accepts."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the portal accepts."
    default_code = "too_large"


# --- Writing problems -------------------------------------------------------------------


def field_errors(detail, prefix: str = "") -> list[dict]:
    """A ``ValidationError``'s detail (nested dicts and lists) as flat field errors."""
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            name = str(key)
            if name in ("non_field_errors", "__all__"):
                name = ""
            found += field_errors(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return found
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [_field_error(prefix, item) for item in detail]
        found = []
        for i, item in enumerate(detail):
            found += field_errors(item, f"{prefix}.{i}" if prefix else str(i))
        return found
    return [_field_error(prefix, detail)]


def _field_error(field: str, message) -> dict:
    error = {"detail": str(message)}
    if field:
        error = {"field": field, **error}
    return error


def problem(status_code: int, detail: str, *, slug=None, title=None, errors=None, request=None):
    """The body of a problem (a dict), its type and title from ``status_code`` by default."""
    default_slug, default_title = BY_STATUS.get(status_code, ("about:blank", None))
    slug, title = slug or default_slug, title or default_title
    body = {
        "type": "about:blank" if slug == "about:blank" else problem_type_uri(slug, request),
        "title": title or "Error",
        "status": status_code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(status_code: int, detail: str, *, request=None, headers=None, **kwargs):
    """A ``Response`` holding a problem, for a view that answers without raising."""
    body = problem(status_code, detail, request=request, **kwargs)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def validation_problem(errors: list[dict], *, request=None) -> dict:
    slug, title = VALIDATION
    parts = [f"{e['field']}: {e['detail']}" if "field" in e else e["detail"] for e in errors]
    detail = "; ".join(parts) or "The input did not validate."
    return problem(400, detail, slug=slug, title=title, errors=errors, request=request)


def as_api_exception(exc):
    """Django's exceptions (and its body-reading refusals) as DRF's, with the reason."""
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return exceptions.ParseError(
            "The request has more form fields or files than the portal accepts."
        )
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError("The request could not be read.")
    if isinstance(exc, Http404):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    return exc


def api_exception_handler(exc, context):
    exc = as_api_exception(exc)
    if not isinstance(exc, exceptions.APIException):
        return exception_handler(exc, context)  # None: Django's 500, and it is logged
    request = context.get("request")
    headers = {}
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # DRF turned it into a 403 when the first authenticator sends no challenge.
        exc.status_code = status.HTTP_401_UNAUTHORIZED
        headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or AUTHENTICATE
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    if isinstance(exc, exceptions.ValidationError):
        body = validation_problem(field_errors(exc.detail), request=request)
    else:
        detail = exc.detail
        if isinstance(detail, dict | list):  # a 4xx raised with structured detail
            errors = field_errors(detail)
            body = problem(
                exc.status_code,
                "; ".join(e["detail"] for e in errors),
                errors=errors,
                request=request,
                slug=getattr(exc, "problem_type", None),
            )
        else:
            body = problem(
                exc.status_code,
                str(detail),
                slug=getattr(exc, "problem_type", None),
                request=request,
            )
    set_rollback()  # as DRF's handler does: an atomic request keeps nothing of it
    return Response(
        body, status=exc.status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE
    )


def not_found_page(request, exception=None):
    """Django's 404 (``handler404``): under /api/ an address that names no operation (an
    id that is not a number, a path that is not there) is a problem too; elsewhere the
    portal's page."""
    if request.path.startswith("/api/"):
        body = problem(404, "No operation of the API answers at this address.", request=request)
        return HttpResponse(json.dumps(body), status=404, content_type=PROBLEM_CONTENT_TYPE)
    return page_not_found(request, exception)
