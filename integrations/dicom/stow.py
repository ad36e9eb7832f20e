"""Sending DICOM objects to a PACS by DICOMweb STOW-RS, and the QIDO-RS test.

``POST <url>/studies`` with a ``multipart/related; type="application/dicom"`` body of
one part, the object as a DICOM file (its transfer syntax kept). The token, when the
destination has one, goes as ``Authorization: Bearer`` to the configured URL only:
redirects are never followed (a redirect would carry it elsewhere), they fail with where
they pointed so a person can correct the URL.

The answer (PS3.18 10.5.3): 200 all stored; 202 some stored, some not or with
warnings; 409 none stored; each failed instance in the FailedSOPSequence with its
Failure Reason (a C-STORE status code, so the same meanings as C-STORE's).
"""

from __future__ import annotations

import io
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import requests
from pydicom import dcmwrite

from integrations.dicom.cstore import TRANSIENT_STATUSES, status_words
from portal.outbound.kinds import DeliveryFailed

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 300.0  # a PACS may take a while to store a long clip
TEST_TIMEOUT = 15.0
REASON_LIMIT = 200

FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_SEQUENCE = "00081199"
FAILURE_REASON = "00081197"
WARNING_REASON = "00081196"
REFERENCED_SOP_INSTANCE_UID = "00081155"


def check_url(value) -> str:
    """A DICOMweb base URL as the form and command should store it, or ValueError:
    http(s), a host, no credentials (the token is the destination's secret, encrypted),
    no query or fragment; without a trailing slash."""
    url = str(value or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("The DICOMweb URL must start with https:// (or http://) and name a host.")
    if parts.username or parts.password:
        raise ValueError("Put no user name or password in the URL; give a token instead.")
    if parts.query or parts.fragment:
        raise ValueError("The DICOMweb URL is the service's base address, without ? or #.")
    try:
        parts.port  # noqa: B018 - raises on an invalid port
    except ValueError:
        raise ValueError("The port in the URL is not valid.") from None
    return url.rstrip("/")


def describe(destination) -> str:
    """The base URL without any credentials in it."""
    parts = urlsplit(str(destination.option("url") or ""))
    if not parts.hostname:
        return "?"
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _base(destination) -> str:
    try:
        return check_url(destination.option("url"))
    except ValueError as e:
        raise DeliveryFailed(str(e), permanent=True) from None


def _headers(destination, **extra) -> dict:
    headers = {"User-Agent": "Clarius portal (DICOMweb)", **extra}
    token = destination.secret
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _short(text: str) -> str:
    text = " ".join((text or "").split())
    return text[:REASON_LIMIT] + ("…" if len(text) > REASON_LIMIT else "")


def _http_problem(response: requests.Response, where: str) -> DeliveryFailed:
    status = response.status_code
    if 300 <= status < 400:
        target = urlsplit(response.headers.get("Location", ""))
        pointed = f"{target.scheme}://{target.netloc}{target.path}" if target.netloc else "?"
        return DeliveryFailed(
            f"The DICOMweb server at {where} answered HTTP {status}, a redirect to {pointed}; "
            "redirects are not followed (the token stays with the configured URL): "
            "correct the destination's URL.",
            permanent=True,
        )
    reason = {
        401: "the token was refused",
        403: "the token may not store here",
        404: "no DICOMweb service at this URL",
        405: "this URL does not take STOW-RS",
        413: "the object is too large for the server",
        415: "the server does not take application/dicom",
    }.get(status) or _short(response.reason or "")
    body = _short(response.text if "json" not in response.headers.get("Content-Type", "") else "")
    # Server errors, overload and rate limits pass; the rest need a person to act.
    transient = status >= 500 or status in (408, 425, 429)
    return DeliveryFailed(
        f"The DICOMweb server at {where} answered HTTP {status}"
        + (f": {reason}" if reason else "")
        + (f" ({body})" if body and body.lower() != (reason or "").lower() else "")
        + ".",
        permanent=not transient,
    )


def _sequence(answer, tag: str) -> list[dict]:
    if not isinstance(answer, dict):
        return []
    element = answer.get(tag) or {}
    value = element.get("Value") if isinstance(element, dict) else None
    return [item for item in value or [] if isinstance(item, dict)]


def _first(item: dict, tag: str):
    value = (item.get(tag) or {}).get("Value") or [None]
    return value[0]


def _parse(response: requests.Response, uid: str, where: str) -> str:
    status = response.status_code
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, list) and answer:  # some servers wrap the one dataset in a list
        answer = answer[0]
    failed = _sequence(answer, FAILED_SOP_SEQUENCE)
    ours = [i for i in failed if _first(i, REFERENCED_SOP_INSTANCE_UID) in (uid, None)]
    if ours or status == 409:
        reason = _first(ours[0], FAILURE_REASON) if ours else None
        words = status_words(int(reason)) if isinstance(reason, int) else "no reason given"
        raise DeliveryFailed(
            f"The DICOMweb server at {where} did not store the object (HTTP {status}): "
            f"failure reason {words}.",
            permanent=not (isinstance(reason, int) and reason in TRANSIENT_STATUSES),
        )
    stored = _sequence(answer, REFERENCED_SOP_SEQUENCE)
    warnings = [_first(i, WARNING_REASON) for i in stored if _first(i, WARNING_REASON) is not None]
    line = f"STOW-RS HTTP {status}: stored"
    if warnings and isinstance(warnings[0], int):
        line += f" with warning {status_words(int(warnings[0]))}"
    return line


def _encode(dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()


def store(dataset, destination) -> str:
    """STOW-RS one dataset; the server's answer in a line, or DeliveryFailed."""
    base = _base(destination)
    where = describe(destination)
    boundary = f"portal-{uuid.uuid4().hex}"
    body = b"".join(
        (
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(),
            _encode(dataset),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    headers = _headers(
        destination, **{"Content-Type": content_type, "Accept": "application/dicom+json"}
    )
    response = _request(
        "POST", f"{base}/studies", where, data=body, headers=headers, read_timeout=READ_TIMEOUT
    )
    if response.status_code not in (200, 202, 409):
        raise _http_problem(response, where)
    return _parse(response, str(getattr(dataset, "SOPInstanceUID", "")), where)


def _request(method: str, url: str, where: str, *, read_timeout: float, **kwargs):
    """One request to the configured server only: redirects are never followed (the
    token goes nowhere else); no answer is a DeliveryFailed in words."""
    try:
        return requests.request(
            method,
            url,
            timeout=(CONNECT_TIMEOUT, read_timeout),
            allow_redirects=False,
            **kwargs,
        )
    except requests.Timeout:
        raise DeliveryFailed(f"The DICOMweb server at {where} did not answer in time.") from None
    except requests.ConnectionError as e:
        raise DeliveryFailed(
            f"Could not connect to the DICOMweb server at {where}: {_connection_words(e)}."
        ) from None


def _connection_words(error: requests.ConnectionError) -> str:
    text = str(error)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "the host name is not known"
    if "SSL" in text or "certificate" in text:
        return "TLS failed (" + _short(text.split("SSLError(")[-1])[:120] + ")"
    return _short(text)[:160]


def send(transmission) -> str:
    """The ``dicomweb`` kind's send: build the object, STOW-RS it."""
    from integrations.dicom import objects

    dataset = objects.build(transmission)
    return store(dataset, transmission.destination)


def check(destination) -> str:
    """The ``dicomweb`` kind's test: a QIDO-RS search for one study."""
    base = _base(destination)
    where = describe(destination)
    started = time.monotonic()
    response = _request(
        "GET",
        f"{base}/studies",
        where,
        params={"limit": 1},
        headers=_headers(destination, Accept="application/dicom+json"),
        read_timeout=TEST_TIMEOUT,
    )
    took = (time.monotonic() - started) * 1000
    if response.status_code not in (200, 204):
        raise _http_problem(response, where)
    return f"DICOMweb answered (HTTP {response.status_code}) at {where} in {took:.0f} ms"
