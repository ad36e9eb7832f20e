"""The API's OpenAPI 3.1 document (drf-spectacular) and its reference page.

``/api/schema/`` serves the document (YAML; ``?format=json`` for JSON), generated from
the views; ``docs/openapi.yaml`` is the same document checked in (``make schema``
regenerates it, and a test fails when the two differ). ``/api/docs/`` is Swagger UI from
drf-spectacular-sidecar's static files, served by the portal itself: its start-up script
is a separate file, so the page keeps the portal's Content-Security-Policy.

Two hooks shape the document: only ``/api/v1/`` is described, and every operation lists
its error answers, each an RFC 9457 problem (``portal.api.errors``) as one component.
"""

from __future__ import annotations

import re

from django.http import Http404, HttpResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers

from portal.api import errors

PROBLEM = "application/problem+json"

# What each problem type means, at its type URI (/api/problems/<slug>).
PROBLEM_DESCRIPTIONS = {
    "invalid-input": "A query parameter or a field of the body is malformed or out of "
    "range; `errors` names each one with the reason.",
    "bad-request": "The request cannot be read (a body that is not JSON or a form, a "
    "header that is not a number) or cannot be done as sent.",
    "not-authenticated": "No credentials, or credentials the portal does not know: send "
    "an institution API key (`Authorization: Bearer <key>`) or sign in.",
    "forbidden": "The credentials are valid but not for this: the role, the key's scope, "
    "an institution that is not yours (X-Portal-Institution), or a missing CSRF token.",
    "not-found": "No such object in your institution (another institution's objects are "
    "not found either).",
    "method-not-allowed": "The path does not answer this HTTP method.",
    "not-acceptable": "The portal cannot answer in a media type the Accept header allows.",
    "conflict": "The change conflicts with the object's current state (already signed, "
    "already assigned, ...).",
    "gone": "The object existed but was removed for good (a capture's media, by the "
    "institution's retention policy); the rest of the exam is kept.",
    "precondition-failed": "The object changed since you read it (If-Match): read it "
    "again and retry.",
    "precondition-required": "The change needs an If-Match header with the ETag you read.",
    "too-large": "The body is larger than the portal accepts.",
    "unsupported-media-type": "The body's Content-Type is not one the operation reads.",
    "range-not-satisfiable": "The Range header asks for bytes outside the file.",
    "throttled": "Too many requests: wait the seconds in Retry-After.",
}


class SchemaView(SpectacularAPIView):
    """The OpenAPI document."""


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI; its init script is served by the same view with ``?script``.

    The page keeps the portal's policy (scripts and styles from the portal only, no
    inline ones, no eval) but for one addition: Swagger UI draws its icons as ``data:``
    SVG images, so this page alone allows ``img-src data:`` (an image cannot run code).
    """

    url_name = "api-schema"
    template_name = "api/swagger_ui.html"
    title = "Clarius portal API"

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response._csp_update = {"img-src": ["data:"]}  # read by django-csp's middleware
        return response


def problem_type(request, slug):
    """What a problem ``type`` URI means, as text (RFC 9457: the type is documentation)."""
    if slug not in errors.PROBLEM_TYPES:
        raise Http404("No such problem type")
    text = f"{errors.PROBLEM_TYPES[slug]}\n\n{PROBLEM_DESCRIPTIONS.get(slug, '')}\n"
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


# --- What drf-spectacular cannot see by itself ----------------------------------------


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "portal.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An institution API key (`Authorization: Bearer cpk_...`), made "
            "by an administrator on the API keys page; read or write scope.",
        }


REPORT = inline_serializer(
    "ReportVersion",
    {
        "id": serializers.IntegerField(),
        "name": serializers.CharField(),
        "state": serializers.ChoiceField(choices=["generating", "pending"]),
    },
)


def only_the_api(endpoints, **kwargs):
    """Describe the versioned API only (not the schema and docs views themselves)."""
    return [e for e in endpoints if e[0].startswith("/api/v1/")]


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An error, as RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": "The kind of problem: a URI under /api/problems/ that explains it.",
            "examples": ["https://portal.example.org/api/problems/not-found"],
        },
        "title": {
            "type": "string",
            "description": "The same for every problem of the type.",
            "examples": ["Not found"],
        },
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {
            "type": "string",
            "description": "The reason, for this request.",
            "examples": ["No Exam matches the given query."],
        },
        "errors": {
            "type": "array",
            "description": "For input that did not validate: each refused field or "
            "parameter with the reason (no field: the request as a whole).",
            "items": {"$ref": "#/components/schemas/FieldError"},
        },
    },
}
FIELD_ERROR_SCHEMA = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "field": {
            "type": "string",
            "description": "The query parameter or body field (nested ones with dots).",
        },
        "detail": {"type": "string"},
    },
}
REF = {"$ref": "#/components/schemas/Problem"}

# status -> (when it is documented, description)
ERRORS = {
    "400": (
        "input",
        "The input did not validate (`errors` names the fields), or the request could not be read.",
    ),
    "401": ("always", "No credentials, or unknown ones."),
    "403": (
        "always",
        "Not allowed: the role, the key's scope, an institution named by "
        "X-Portal-Institution that is not yours, or a missing CSRF token.",
    ),
    "404": (
        "always",
        "Not found in your institution (another institution's objects, "
        "and what your role may not see, are not found either).",
    ),
    "413": ("body", "The body is larger than the portal accepts."),
    "415": ("body", "The body's media type is not one the operation reads."),
    "429": ("always", "Too many requests; wait the seconds in Retry-After."),
}
EXAMPLES = {
    "400": {
        "type": "https://portal.example.org/api/problems/invalid-input",
        "title": "The input did not validate",
        "status": 400,
        "detail": "status: choose one of: receiving, ready, incomplete",
        "errors": [{"field": "status", "detail": "choose one of: receiving, ready, incomplete"}],
    },
    "401": {
        "type": "https://portal.example.org/api/problems/not-authenticated",
        "title": "Authentication is needed",
        "status": 401,
        "detail": "Authentication credentials were not provided.",
    },
    "403": {
        "type": "https://portal.example.org/api/problems/forbidden",
        "title": "Not allowed",
        "status": 403,
        "detail": 'You are not a member of institution "eastside" (named by the '
        "X-Portal-Institution header): send the slug of one of your institutions, or no "
        "header for the default one.",
    },
    "404": {
        "type": "https://portal.example.org/api/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No Exam matches the given query.",
    },
    "429": {
        "type": "https://portal.example.org/api/problems/throttled",
        "title": "Too many requests",
        "status": 429,
        "detail": "Request was throttled. Expected available in 12 seconds.",
    },
}
HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "description": 'The challenge: `Bearer realm="api"`.',
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds to wait before the next request.",
            "schema": {"type": "integer"},
        }
    },
}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def problems_everywhere(result, generator, request, public):
    """Every operation's error answers, as the one Problem component."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["FieldError"] = FIELD_ERROR_SCHEMA
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            has = {
                "always": True,
                "input": bool(operation.get("parameters") or operation.get("requestBody")),
                "object": bool(re.search(r"\{[^}]+\}", path)),
                "body": "requestBody" in operation,
            }
            for code, (when, description) in ERRORS.items():
                if not has[when] and code not in responses:
                    continue
                response = responses.setdefault(code, {"description": description})
                content = response.setdefault("content", {})
                content.pop("application/json", None)
                media = content.setdefault(PROBLEM, {"schema": REF})
                if code in EXAMPLES:
                    media.setdefault("examples", {"problem": {"value": EXAMPLES[code]}})
                if code in HEADERS:
                    response.setdefault("headers", HEADERS[code])
    return result


# What Django adds to an integer field from the database's own range: 64 bits on SQLite,
# 32 on PostgreSQL for the same field. They say nothing about the API (the fields check
# their real limits and answer 400), and would make the document depend on the engine.
DATABASE_BOUNDS = {
    "maximum": {2**31 - 1, 2**63 - 1},
    "minimum": {-(2**31), -(2**63)},
}


def without_database_bounds(result, generator, request, public):
    """The same document whichever database generated it."""

    def visit(node):
        if isinstance(node, dict):
            if node.get("type") == "integer":
                dropped = False
                for key, values in DATABASE_BOUNDS.items():
                    if node.get(key) in values:
                        del node[key]
                        dropped = True
                if dropped and node.get("format") == "int64":
                    del node["format"]
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result)
    return result
