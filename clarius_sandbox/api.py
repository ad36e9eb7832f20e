"""The API server's WSGI application: routing, authentication, and the two side doors.

``/api/public/v0/...`` is the simulated Clarius Cloud API; ``/sandbox/`` is the human
page and ``/_sandbox/`` the loopback-only control API (both belong to the sandbox, not to
Clarius, and are never subject to fault injection).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Literal

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from . import research_api, service_api
from .httputil import ApiError, json_response
from .media import MediaLinks
from .service_api import Call
from .state import ApiKey, SandboxState

log = logging.getLogger(__name__)

API_ROOT = "/api/public/v0/"
Auth = Literal["service", "research", "public"]
Handler = Callable[[Call], Response]

ROUTES: list[tuple[str, list[str], Auth, Handler]] = [
    ("token-auth/", ["POST"], "public", research_api.token_auth),
    ("services/customer-confirmations/", ["POST"], "service", service_api.confirm_customer),
    ("services/confirmed-tokens/", ["GET"], "service", service_api.confirmed_tokens),
    ("exams/accessible/", ["GET"], "service", service_api.accessible_exams),
    # The vendor shows download_url both with and without "exams/": answer both.
    ("exams/download-requests/<request_uuid>/data/", ["GET"], "service", service_api.exam_data),
    ("download-requests/<request_uuid>/data/", ["GET"], "service", service_api.exam_data),
    ("services/settings/", ["GET", "PATCH"], "service", service_api.service_settings),
    ("services/notifications/records/", ["GET"], "service", service_api.notification_records),
    ("services/requests/<request_uuid>/reports/", ["POST"], "service", service_api.upload_report),
    ("services/api-keys/", ["GET", "POST"], "service", service_api.api_keys),
    ("services/api-keys/<prefix>/", ["DELETE"], "service", service_api.revoke_api_key),
    ("exams/applications/", ["GET"], "service", service_api.exam_applications),
    ("services/applications/", ["GET"], "service", service_api.service_applications),
    (
        "services/applications/<application_uuid>/",
        ["GET", "PUT", "DELETE"],
        "service",
        service_api.service_application,
    ),
    ("exams/rawdata/<exam>/", ["GET"], "research", research_api.raw_data),
    ("exams/dicom/<exam>/", ["POST"], "research", research_api.dicom_export),
]

_api_map = Map(
    [
        Rule(API_ROOT + path, methods=methods, endpoint=i)
        for i, (path, methods, _, _) in enumerate(ROUTES)
    ]
)

NO_CREDENTIALS = "Authentication credentials were not provided."


def relative_api_path(path: str) -> str | None:
    """The path below the API root (what fault regexes match), or None outside the API."""
    return path[len(API_ROOT) :] if path.startswith(API_ROOT) else None


class ApiApp:
    def __init__(
        self,
        state: SandboxState,
        links: MediaLinks,
        pages: Callable[[Request], Response],
        control: Callable[[Request], Response],
    ) -> None:
        self.state = state
        self.links = links
        self.pages = pages
        self.control = control

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except ApiError as e:
            response = e.response()
        except HTTPException as e:  # e.g. 413 from werkzeug's form parser
            response = json_response({"detail": e.description}, e.code or 500)
        except Exception:
            log.exception("sandbox error on %s %s", request.method, request.path)
            response = json_response({"detail": "A server error occurred."}, 500)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/":
            return redirect("/sandbox/")
        if path == "/sandbox" or path.startswith("/sandbox/"):
            return self.pages(request)
        if path.startswith("/_sandbox/"):
            return self.control(request)
        try:
            index, values = _api_map.bind_to_environ(request.environ).match()
        except MethodNotAllowed as e:
            allowed = ", ".join(e.valid_methods or [])
            raise ApiError(
                405, f'Method "{request.method}" not allowed.', {"Allow": allowed}
            ) from None
        except NotFound:
            raise ApiError(404, "Not found.") from None
        except HTTPException as e:  # e.g. the trailing-slash redirect
            return e.get_response(request.environ)
        _, _, auth, handler = ROUTES[index]
        call = Call(request, values, self.state, self.links)
        if auth == "service":
            call.api_key = self._service_key(request)
        elif auth == "research":
            self._research_token(request)
        return handler(call)

    def _service_key(self, request: Request) -> ApiKey:
        challenge = {"WWW-Authenticate": "Service-API-Key"}
        header = request.headers.get("Authorization", "")
        if not header:
            raise ApiError(401, NO_CREDENTIALS, challenge)
        scheme, _, credential = header.partition(" ")
        if scheme != "Service-API-Key" or not credential.strip():
            raise ApiError(401, "Invalid API key header.", challenge)
        key = self.state.authenticate_key(credential.strip())
        if key is None:
            raise ApiError(401, "Invalid API key.", challenge)
        return key

    def _research_token(self, request: Request) -> None:
        challenge = {"WWW-Authenticate": "Token"}
        header = request.headers.get("Authorization", "")
        if not header:
            raise ApiError(401, NO_CREDENTIALS, challenge)
        scheme, _, credential = header.partition(" ")
        if scheme != "Token" or not credential.strip():
            raise ApiError(401, "Invalid token header.", challenge)
        with self.state.lock:
            known = credential.strip() in self.state.research_tokens
        if not known:
            raise ApiError(401, "Invalid token.", challenge)
