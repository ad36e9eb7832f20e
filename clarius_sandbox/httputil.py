"""JSON responses, request bodies and limit/offset pagination, the way a DRF API does them.

Clarius Cloud is a Django REST framework service (its error bodies and pagination are
DRF's), so the sandbox copies DRF's observable habits: ``{"detail": ...}`` errors,
field errors as ``{"field": ["message"]}``, invalid ``limit``/``offset`` silently falling
back to the defaults, and ``previous`` dropping ``offset`` when it would be 0.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response


class ApiError(Exception):
    """Raised anywhere in a handler to answer with this status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any] | str, headers: dict | None = None):
        super().__init__(status)
        self.status = status
        self.body = {"detail": body} if isinstance(body, str) else body
        self.headers = headers or {}

    def response(self) -> Response:
        return json_response(self.body, self.status, self.headers)


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(data), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def not_found() -> ApiError:
    return ApiError(404, "Not found.")


def body_fields(request: Request) -> dict[str, Any]:
    """The request body as a dict: JSON object, form or multipart; empty body is ``{}``.

    Repeated form fields become lists (``demographics=A&demographics=B``).
    """
    mimetype = request.mimetype
    if mimetype == "application/json":
        raw = request.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, f"JSON parse error - {e}") from None
        if not isinstance(data, dict):
            raise ApiError(400, {"non_field_errors": ["Invalid data. Expected a dictionary."]})
        return data
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {
            key: values[0] if len(values) == 1 else values for key, values in request.form.lists()
        }
    if not request.get_data(cache=True):
        return {}
    raise ApiError(415, f'Unsupported media type "{request.mimetype}" in request.')


def _positive_int(value: str | None, default: int, *, allow_zero: bool = False) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    if number < 0 or (number == 0 and not allow_zero):
        return default
    return number


def _with_query(url: str, **changes: int | None) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in changes]
    query += [(k, str(v)) for k, v in changes.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def paginate(request: Request, items: list[Any], default_limit: int) -> dict[str, Any]:
    """``{count, next, previous, results}`` with absolute links, DRF LimitOffset style."""
    limit = _positive_int(request.args.get("limit"), default_limit)
    offset = _positive_int(request.args.get("offset"), 0, allow_zero=True)
    count = len(items)
    url = request.url
    next_url = (
        _with_query(url, limit=limit, offset=offset + limit) if offset + limit < count else None
    )
    previous_url = None
    if offset > 0:
        previous_offset = offset - limit
        previous_url = _with_query(
            url, limit=limit, offset=previous_offset if previous_offset > 0 else None
        )
    return {
        "count": count,
        "next": next_url,
        "previous": previous_url,
        "results": items[offset : offset + limit],
    }
