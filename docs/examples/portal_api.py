"""A partner's first afternoon with the portal's API: the example of docs/api.md.

Needs only ``requests`` (and the standard library). Run against a portal with a key an
institution administrator made (API keys page, or ``manage.py apikey create``):

    PORTAL_URL=https://portal.example.org PORTAL_KEY=cpk_... python portal_api.py

The test suite runs these functions against a live portal (tests/api/test_docs_example.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from pathlib import Path
from urllib.parse import urljoin

import requests


def session(key: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    return s


def new_exams(base: str, key: str, page_size: int = 50):
    """Every exam waiting for review, oldest pages first: follow the ``next`` links."""
    s = session(key)
    url = f"{base}/api/v1/exams/"
    params = {"review_state": "new", "page_size": page_size}
    while url:
        page = s.get(url, params=params, timeout=30)
        page.raise_for_status()
        body = page.json()
        yield from body["results"]
        url, params = body["next"], None  # the next link carries the query already


def download_capture(base: str, key: str, capture: dict, folder: Path) -> Path:
    """Stream one capture's media to ``folder``; check its SHA-256 on the way."""
    url = urljoin(base + "/", capture["url"])  # the API's links may be absolute or not
    suffix = {"image/jpeg": ".jpg", "image/png": ".png", "video/mp4": ".mp4"}.get(
        capture["content_type"], ".dcm"
    )
    path = folder / f"capture-{capture['id']}{suffix}"
    digest = hashlib.sha256()
    with session(key).get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        with open(path, "wb") as f:
            for chunk in response.iter_content(1 << 16):
                digest.update(chunk)
                f.write(chunk)
    if digest.hexdigest() != capture["sha256"]:
        raise ValueError(f"capture {capture['id']} arrived damaged")
    return path


def write_findings_and_sign(base: str, key: str, exam_id: int, worksheet: dict) -> int | None:
    """Save the findings (with the ETag they were read at) and sign; the report's id
    (``None`` when a trainee signed and the report waits for an attending's attestation)."""
    s = session(key)
    findings_url = f"{base}/api/v1/exams/{exam_id}/findings/"
    current = s.get(findings_url, timeout=30)
    current.raise_for_status()
    saved = s.put(
        findings_url, json=worksheet, headers={"If-Match": current.headers["ETag"]}, timeout=30
    )
    if saved.status_code == 412:
        raise RuntimeError("someone else saved these findings meanwhile: read them again")
    if saved.status_code == 409:
        raise RuntimeError(saved.json()["detail"])  # signed already: add an addendum instead
    saved.raise_for_status()
    signed = s.post(f"{base}/api/v1/exams/{exam_id}/sign/", timeout=30)
    if signed.status_code == 409:
        raise RuntimeError(signed.json()["detail"])  # signed already
    if signed.status_code == 400:  # incomplete: each required field or view still missing
        missing = ", ".join(e.get("field", "") for e in signed.json().get("errors", []))
        raise RuntimeError(f"the worksheet is incomplete: {missing}")
    signed.raise_for_status()
    if signed.status_code == 202:
        return None  # signed as a trainee: the report goes out once an attending attests
    return signed.json()["id"]


def verify_webhook(secret: str, headers: dict, body: bytes, tolerance: int = 300) -> bool:
    """Standard Webhooks: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``, keyed with the
    base64 part of the ``whsec_`` secret; a stale timestamp is refused too."""
    webhook_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256)
    expected = base64.b64encode(signed.digest()).decode()
    return any(
        hmac.compare_digest(expected, candidate.partition(",")[2])
        for candidate in headers["webhook-signature"].split()
        if candidate.startswith("v1,")
    )


if __name__ == "__main__":
    base, key = os.environ["PORTAL_URL"].rstrip("/"), os.environ["PORTAL_KEY"]
    for exam in new_exams(base, key):
        print(exam["id"], exam["submitted_at"], exam["captures_count"], "captures")
