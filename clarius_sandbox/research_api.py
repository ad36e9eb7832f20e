"""Research API handlers (§10) and the token login they need.

Permission model (the vendor text only says "403 no permission"): the one research
account may see an exam when the uploading user's institution holds the Research Bundle
(``SandboxUser.research_bundle``); otherwise 403.
"""

from __future__ import annotations

import uuid

from werkzeug.wrappers import Response

from . import dicom, rawdata
from .httputil import ApiError, body_fields, json_response, not_found
from .service_api import Call
from .state import DicomExport, SandboxExam

STILL_PROCESSING = "exam is still being processed"


def token_auth(call: Call) -> Response:
    data = body_fields(call.request)
    errors = {
        name: ["This field is required."]
        for name in ("username", "password")
        if not isinstance(data.get(name), str) or not data.get(name)
    }
    if errors:
        raise ApiError(400, errors)
    token = call.state.issue_research_token(data["username"], data["password"])
    if token is None:
        raise ApiError(400, {"non_field_errors": ["Unable to log in with provided credentials."]})
    return json_response({"token": token})


def _permitted_exam(call: Call) -> SandboxExam:
    """The exam named in the URL, or the right error: 404, then 403, then 400."""
    state = call.state
    with state.lock:
        exam = state.exams.get(call.args["exam"])
        if exam is None:
            raise not_found()
        if not state.users[exam.customer_token].research_bundle:
            raise ApiError(403, "You do not have permission to perform this action.")
        if exam.processing:
            raise ApiError(400, STILL_PROCESSING)
        return exam


def raw_data(call: Call) -> Response:
    exam = _permitted_exam(call)
    items = [
        {
            "capture_uuid": capture.capture_uuid,
            "blob": rawdata.blob(capture, exam),
            "raw_image": call.links.rawdata(capture),
        }
        for capture in list(exam.captures)
        if capture.kind != "padded"  # a benchmark artefact, not a scan
    ]
    return json_response(items)


def dicom_export(call: Call) -> Response:
    # Parameters may come in the body (JSON or form) or the query string; the body wins.
    # A repeated query parameter (?demographics=A&demographics=B) arrives as a list.
    query = {k: v[0] if len(v) == 1 else v for k, v in call.request.args.lists()}
    received = {**query, **body_fields(call.request)}
    exam = _permitted_exam(call)
    params, errors = dicom.validate(received)
    export = DicomExport(uuid.uuid4().hex, exam.exam_uuid, received, params, errors)
    with call.state.lock:
        # Recorded even when invalid: tests can see what arrived and why it was refused.
        exam.dicom_exports.append(export)
        if errors:
            raise ApiError(400, errors)
        call.state.dicom_exports[export.export_id] = export
    return json_response({"download_url": call.links.dicom(export)})
