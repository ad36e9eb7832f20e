"""Service API handlers (§1–§9), authenticated with the Service API key.

Each handler takes a ``Call`` (the request, its URL values, the state and the key that
authenticated it) and returns a werkzeug ``Response`` or raises ``ApiError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from . import catalogue
from .httputil import ApiError, body_fields, json_response, not_found, paginate
from .media import MediaLinks
from .state import ApiKey, RevokeRefused, SandboxState, isoformat

REPORT_MAX_BYTES = 50 * 1024 * 1024
SAMPLE_TOKEN = "eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY"


@dataclass
class Call:
    request: Request
    args: dict[str, str]
    state: SandboxState
    links: MediaLinks
    api_key: ApiKey | None = None


# --- §1 account linking ------------------------------------------------------------------


def confirm_customer(call: Call) -> Response:
    token = body_fields(call.request).get("token")
    if not isinstance(token, str) or not token:
        raise ApiError(400, {"token": ["This field is required."]})
    if not call.state.confirm(token):
        raise ApiError(404, "No customer with this token.")
    return json_response({"token": token})


def confirmed_tokens(call: Call) -> Response:
    return json_response(paginate(call.request, call.state.confirmed_tokens(), 10000))


# --- §3 / §4 exams ---------------------------------------------------------------------------


def accessible_exams(call: Call) -> Response:
    customer_id = call.request.args.get("customer_id")
    requests = call.state.accessible_requests(customer_id)
    items = [r.notification_payload() for r in requests]
    return json_response(paginate(call.request, items, 100))


def exam_data(call: Call) -> Response:
    state = call.state
    with state.lock:
        request = state.requests.get(call.args["request_uuid"])
        if request is None:
            raise not_found()
        exam = state.exams[request.exam_uuid]
        captures = [state.captures[c] for c in request.capture_uuids]
        patient = dict(exam.patient)
        application = exam.application if state.send_application else None
    # Fresh links on every call: a stale one is replaced by fetching the data again (§4).
    document: dict[str, Any] = {
        "request_uuid": request.request_uuid,
        "patient": patient,
        "captures": [{"url": call.links.capture(c)} for c in captures],
    }
    if application is not None:
        document["application"] = application
    return json_response(document)


# --- §5 settings -------------------------------------------------------------------------------


def _url_error(value: str) -> str | None:
    if any(c.isspace() for c in value):
        return "Enter a valid URL."
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        return "Enter a valid URL."
    return None


def validate_settings(data: dict[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``(changes, field errors)`` for a settings PATCH body; unknown fields are ignored."""
    errors: dict[str, list[str]] = {}
    changes: dict[str, str] = {}
    for name in ("notification_url", "token_transfer_url"):
        if name not in data:
            continue
        value = data[name]
        if not isinstance(value, str):
            errors[name] = ["Not a valid string."]
        elif value == "":
            changes[name] = value
        elif name == "token_transfer_url" and "{token}" not in value:
            errors[name] = ["The URL must contain {token}."]
        elif message := _url_error(value.replace("{token}", SAMPLE_TOKEN)):
            errors[name] = [message]
        else:
            changes[name] = value
    return changes, errors


def service_settings(call: Call) -> Response:
    state = call.state
    if call.request.method == "PATCH":
        changes, errors = validate_settings(body_fields(call.request))
        if errors:
            raise ApiError(400, errors)
        with state.lock:
            state.settings.update(changes)
    with state.lock:
        return json_response(dict(state.settings))


# --- §6 notification records --------------------------------------------------------------


def notification_records(call: Call) -> Response:
    records = [r.as_json() for r in call.state.records_newest_first()]
    return json_response(paginate(call.request, records, 100))


# --- §7 reports --------------------------------------------------------------------------------


def upload_report(call: Call) -> Response:
    request = call.request
    request.max_content_length = REPORT_MAX_BYTES + 64 * 1024
    state = call.state
    with state.lock:
        if call.args["request_uuid"] not in state.requests:
            raise not_found()
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, f'Unsupported media type "{request.mimetype}" in request.')
    errors: dict[str, list[str]] = {}
    name = request.form.get("name", "")
    upload = request.files.get("file")
    if not name.strip():
        errors["name"] = ["This field is required."]
    if upload is None or not upload.filename:
        errors["file"] = ["No file was submitted."]
    if errors:
        raise ApiError(400, errors)
    assert upload is not None
    data = upload.read()
    if not data:
        raise ApiError(400, {"file": ["The submitted file is empty."]})
    report = state.add_report(
        call.args["request_uuid"],
        name=name,
        filename=upload.filename or "report",
        content_type=upload.mimetype or "application/octet-stream",
        data=data,
    )
    return json_response(
        {"id": report.report_id, "name": report.name, "created": isoformat(report.received_at)},
        201,
    )


# --- §8 API keys -------------------------------------------------------------------------------


def api_keys(call: Call) -> Response:
    state = call.state
    if call.request.method == "POST":
        name = body_fields(call.request).get("name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, {"name": ["This field is required."]})
        if len(name) > 100:
            raise ApiError(400, {"name": ["Ensure this field has no more than 100 characters."]})
        key = state.create_key(name)
        return json_response({**key.as_json(), "key": key.key}, 201)
    with state.lock:
        return json_response([k.as_json() for k in state.api_keys.values()])


def revoke_api_key(call: Call) -> Response:
    assert call.api_key is not None
    try:
        revoked = call.state.revoke_key(call.args["prefix"], requested_by=call.api_key)
    except RevokeRefused as e:
        raise ApiError(400, str(e)) from None
    if not revoked:
        raise not_found()
    return Response(status=204)


# --- §9 applications and annotations ----------------------------------------------------------


def exam_applications(call: Call) -> Response:
    return json_response(catalogue.APPLICATIONS)


def service_applications(call: Call) -> Response:
    with call.state.lock:
        items = [
            {**catalogue.APPLICATIONS_BY_UUID[uuid], "annotations": annotations}
            for uuid, annotations in call.state.customisations.items()
        ]
    return json_response(items)


def _annotation_errors(data: dict[str, Any]) -> dict[str, Any]:
    groups = data.get("annotations")
    if "annotations" not in data:
        return {"annotations": ["This field is required."]}
    if not isinstance(groups, list):
        return {
            "annotations": [f'Expected a list of items but got type "{type(groups).__name__}".']
        }
    per_item: list[dict[str, list[str]]] = []
    for group in groups:
        errors: dict[str, list[str]] = {}
        if not isinstance(group, dict):
            per_item.append({"non_field_errors": ["Invalid data. Expected a dictionary."]})
            continue
        title = group.get("title")
        if not isinstance(title, str) or not title.strip():
            errors["title"] = ["This field is required."]
        labels = group.get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
            errors["labels"] = ["Expected a list of non-empty strings."]
        if not isinstance(group.get("linked"), bool):
            errors["linked"] = ["Must be a valid boolean."]
        per_item.append(errors)
    return {"annotations": per_item} if any(per_item) else {}


def service_application(call: Call) -> Response:
    state = call.state
    uuid = call.args["application_uuid"]
    application = catalogue.APPLICATIONS_BY_UUID.get(uuid)
    if application is None:
        raise not_found()
    method = call.request.method
    if method == "PUT":
        data = body_fields(call.request)
        errors = _annotation_errors(data)
        if errors:
            raise ApiError(400, errors)
        annotations = [
            {"title": g["title"], "labels": list(g["labels"]), "linked": g["linked"]}
            for g in data["annotations"]
        ]
        with state.lock:
            state.customisations[uuid] = annotations
    elif method == "DELETE":
        with state.lock:
            state.customisations.pop(uuid, None)
        return Response(status=204)
    with state.lock:
        annotations = list(state.customisations.get(uuid, []))
    return json_response({**application, "annotations": annotations})
