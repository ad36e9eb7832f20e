"""``/_sandbox/``: drive the sandbox over HTTP when it runs in another process.

Loopback clients only and no key: it exists for the demo scripts and end-to-end tests on
the same machine. Every endpoint mirrors a ``Sandbox`` method.

| method and path                   | body (JSON)                                         |
|-----------------------------------|-----------------------------------------------------|
| GET    /_sandbox/                 | — summary: URLs, counts, pending faults             |
| POST   /_sandbox/faults           | path_regex, method, status, count, delay, timeout,  |
|                                   | retry_after, body                                   |
| GET    /_sandbox/faults           | — pending faults                                    |
| DELETE /_sandbox/faults           | — clear them                                        |
| POST   /_sandbox/drop-notifications | count                                             |
| POST   /_sandbox/reset            | —                                                   |
| GET    /_sandbox/users            | —                                                   |
| POST   /_sandbox/users            | name, email, research_bundle                        |
| GET    /_sandbox/exams            | — exams, submissions, reports, DICOM requests       |
| POST   /_sandbox/exams            | customer_token + upload_exam keywords               |
| POST   /_sandbox/wait-for-deliveries | timeout                                          |
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from .httputil import ApiError, body_fields, json_response
from .state import SandboxExam, isoformat

if TYPE_CHECKING:
    from .server import Sandbox

UPLOAD_OPTIONS = (
    "captures",
    "videos",
    "animal",
    "exam_uuid",
    "notify",
    "capture_size",
    "processing",
    "patient",
    "application",
)


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def exam_summary(sandbox: Sandbox, exam: SandboxExam) -> dict[str, Any]:
    state = sandbox.state
    return {
        "exam_uuid": exam.exam_uuid,
        "customer_id": exam.customer_token,
        "processing": exam.processing,
        "application": exam.application,
        "patient": exam.patient,
        "captures": [
            {"capture_uuid": c.capture_uuid, "kind": c.kind, "content_type": c.content_type}
            for c in exam.captures
        ],
        "submissions": [
            {
                **state.requests[r].notification_payload(),
                "reports": [
                    {
                        "id": report.report_id,
                        "name": report.name,
                        "filename": report.filename,
                        "content_type": report.content_type,
                        "size": len(report.data),
                        "sha256": hashlib.sha256(report.data).hexdigest(),
                        "received_at": isoformat(report.received_at),
                    }
                    for report in state.requests[r].reports
                ],
            }
            for r in exam.request_uuids
        ],
        "dicom_exports": [
            {"received": d.received, "params": d.params, "errors": d.errors}
            for d in exam.dicom_exports
        ],
    }


class ControlApp:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def __call__(self, request: Request) -> Response:
        if not _is_loopback(request.remote_addr):
            raise ApiError(403, "The sandbox control API answers loopback clients only.")
        route = request.path[len("/_sandbox/") :].strip("/")
        handler = getattr(self, f"{request.method.lower()}_{route.replace('-', '_')}", None)
        if handler is None:
            raise ApiError(404, "Not found.")
        return handler(request)

    def get_(self, request: Request) -> Response:
        sandbox, state = self.sandbox, self.sandbox.state
        with state.lock:
            counts = {
                "users": len(state.users),
                "exams": len(state.exams),
                "requests": len(state.requests),
                "notification_records": len(state.notification_records),
            }
        return json_response(
            {
                "api_url": sandbox.api_url,
                "media_origin": sandbox.media_origin,
                "pages_url": sandbox.pages_url,
                "counts": counts,
                "faults": sandbox.faults.pending(),
            }
        )

    def post_faults(self, request: Request) -> Response:
        data = body_fields(request)
        if not isinstance(data.get("path_regex"), str):
            raise ApiError(400, {"path_regex": ["This field is required."]})
        allowed = ("method", "status", "count", "delay", "timeout", "retry_after", "body")
        try:
            self.sandbox.inject(data["path_regex"], **{k: data[k] for k in allowed if k in data})
        except (TypeError, ValueError) as e:
            raise ApiError(400, str(e)) from None
        return json_response(self.sandbox.faults.pending(), 201)

    def get_faults(self, request: Request) -> Response:
        return json_response(self.sandbox.faults.pending())

    def delete_faults(self, request: Request) -> Response:
        self.sandbox.faults.clear()
        return Response(status=204)

    def post_drop_notifications(self, request: Request) -> Response:
        count = body_fields(request).get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ApiError(400, {"count": ["A positive integer is required."]})
        self.sandbox.drop_notifications(count)
        return Response(status=204)

    def post_reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return Response(status=204)

    def get_users(self, request: Request) -> Response:
        with self.sandbox.state.lock:
            users = list(self.sandbox.state.users.values())
        return json_response([_user_json(u) for u in users])

    def post_users(self, request: Request) -> Response:
        data = body_fields(request)
        if not isinstance(data.get("name"), str) or not data["name"].strip():
            raise ApiError(400, {"name": ["This field is required."]})
        user = self.sandbox.add_user(
            data["name"], data.get("email"), research_bundle=bool(data.get("research_bundle"))
        )
        return json_response(_user_json(user), 201)

    def get_exams(self, request: Request) -> Response:
        with self.sandbox.state.lock:
            exams = [exam_summary(self.sandbox, e) for e in self.sandbox.state.exams.values()]
        return json_response(exams)

    def post_exams(self, request: Request) -> Response:
        data = body_fields(request)
        options = {k: data[k] for k in UPLOAD_OPTIONS if k in data}
        try:
            submission = self.sandbox.upload_exam(data.get("customer_token", ""), **options)
        except KeyError as e:
            raise ApiError(400, {"customer_token": [str(e.args[0])]}) from None
        except (TypeError, ValueError) as e:
            raise ApiError(400, str(e)) from None
        return json_response(submission.notification_payload(), 201)

    def post_wait_for_deliveries(self, request: Request) -> Response:
        timeout = body_fields(request).get("timeout", 10)
        try:
            self.sandbox.wait_for_deliveries(float(timeout))
        except TimeoutError as e:
            raise ApiError(504, str(e)) from None
        return Response(status=204)


def _user_json(user: Any) -> dict[str, Any]:
    return {
        "name": user.name,
        "email": user.email,
        "customer_token": user.customer_token,
        "research_bundle": user.research_bundle,
        "confirmed": user.confirmed,
    }
