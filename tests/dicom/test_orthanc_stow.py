"""A signed exam sent by DICOMweb STOW-RS to a real Orthanc, read back through its REST
API; and how the sender treats what a DICOMweb server may answer (a real HTTP server)."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.dicom import stow
from portal.outbound.kinds import DeliveryFailed
from portal.outbound.models import Transmission
from portal.outbound.sending import resend
from tests import services
from tests.dicom.conftest import check_arrived, dicomweb_destination, send_due, signed_exam

pytestmark = pytest.mark.django_db


class Server:
    """A DICOMweb server that answers what the test says and records each request."""

    def __init__(self, status=200, location="", body=b"{}"):
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers)}
                )
                self.send_response(server.status)
                if server.location:
                    self.send_header("Location", server.location)
                reply = b"Service Unavailable" if server.status >= 500 else server.body
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(reply)
                return body

            do_GET = do_POST = answer

        self.status, self.location, self.body = status, location, body
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/dicom-web"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def servers():
    started = []

    def start(**kwargs) -> Server:
        started.append(Server(**kwargs))
        return started[-1]

    yield start
    for server in started:
        server.close()


def test_a_signed_exam_arrives_whole_and_readable(northside, trio, media_root, pacs):
    _, bob, _ = trio
    destination = dicomweb_destination(northside, pacs, token="s3cret-token")
    exam, report = signed_exam(northside, bob)
    rows = Transmission.objects.filter(exam=exam, destination=destination)
    assert rows.count() == 5

    assert send_due(exam) == ["sent"] * 5

    for row in rows:
        assert row.state == Transmission.State.SENT
        assert row.remote_answer == "STOW-RS HTTP 200: stored"
    study = check_arrived(pacs, exam, report, images=3, clips=1)

    assert resend(rows) == 5
    assert send_due(exam) == ["sent"] * 5
    assert int(pacs.rest(f"/studies/{study['ID']}/statistics")["CountInstances"]) == 5


def test_the_token_goes_to_the_configured_url_only(northside, trio, media_root, servers):
    _, bob, _ = trio
    elsewhere = servers()
    redirecting = servers(status=307, location=f"{elsewhere.url}/studies")
    destination = dicomweb_destination(northside, redirecting, token="s3cret-token")
    exam, _ = signed_exam(northside, bob, images=1, clips=0)

    assert send_due(exam) == ["failed", "failed"]

    (first, *_) = redirecting.requests
    assert first["method"] == "POST" and first["path"] == "/dicom-web/studies"
    assert first["headers"]["Authorization"] == "Bearer s3cret-token"
    assert first["headers"]["Content-Type"].startswith(
        'multipart/related; type="application/dicom"'
    )
    assert elsewhere.requests == []  # the redirect was not followed
    for row in Transmission.objects.filter(exam=exam, destination=destination):
        assert row.state == Transmission.State.FAILED
        assert "HTTP 307" in row.last_error and "redirect" in row.last_error
        assert "s3cret" not in row.last_error


@pytest.mark.parametrize(
    ("status", "outcome", "words"),
    [
        (401, "failed", "HTTP 401: the token was refused"),
        (404, "failed", "HTTP 404: no DICOMweb service at this URL"),
        (503, "retry", "HTTP 503"),
    ],
)
def test_http_errors_name_the_status(northside, trio, media_root, servers, status, outcome, words):
    _, bob, _ = trio
    destination = dicomweb_destination(northside, servers(status=status))
    exam, _ = signed_exam(northside, bob, images=1, clips=0)
    assert send_due(exam) == [outcome, outcome]
    for row in Transmission.objects.filter(exam=exam, destination=destination):
        assert words in row.last_error


def failed_sop(reason: int) -> bytes:
    """A STOW-RS answer (PS3.18 10.5.3) whose FailedSOPSequence holds every instance."""
    item = {"00081197": {"vr": "US", "Value": [reason]}}
    return json.dumps({"00081198": {"vr": "SQ", "Value": [item]}}).encode()


@pytest.mark.parametrize(
    ("status", "reason", "outcome", "words"),
    [
        (409, 0xA900, "failed", "failure reason 0xA900 (Data Set Does Not Match SOP Class)"),
        (202, 0xA700, "retry", "failure reason 0xA700 (Refused: Out of Resources)"),
        (409, 0x0122, "failed", "failure reason 0x0122 (Refused: SOP Class Not Supported)"),
    ],
)
def test_instances_the_server_did_not_store(
    northside, trio, media_root, servers, status, reason, outcome, words
):
    _, bob, _ = trio
    destination = dicomweb_destination(northside, servers(status=status, body=failed_sop(reason)))
    exam, _ = signed_exam(northside, bob, images=1, clips=0)
    assert send_due(exam) == [outcome, outcome]
    for row in Transmission.objects.filter(exam=exam, destination=destination):
        assert f"did not store the object (HTTP {status})" in row.last_error
        assert words in row.last_error


def test_a_server_that_is_down_is_retried(northside, trio, media_root):
    _, bob, _ = trio
    destination = dicomweb_destination(
        northside, None, url=f"http://127.0.0.1:{services.closed_port()}"
    )
    exam, _ = signed_exam(northside, bob, images=1, clips=0)
    assert send_due(exam) == ["retry", "retry"]
    for row in Transmission.objects.filter(exam=exam, destination=destination):
        assert row.state == Transmission.State.PENDING
        assert "connection refused" in row.last_error


def test_the_test_is_a_qido_search(northside, pacs, servers):
    answer = stow.check(dicomweb_destination(northside, pacs, token="t"))
    assert answer.startswith(f"DICOMweb answered (HTTP 200) at {pacs.dicomweb_url} in ")

    refusing = servers(status=401)
    with pytest.raises(DeliveryFailed) as refused:
        stow.check(dicomweb_destination(northside, refusing, token="wrong"))
    assert "HTTP 401: the token was refused" in str(refused.value)
    assert refusing.requests[0]["path"] == "/dicom-web/studies?limit=1"
    assert refusing.requests[0]["headers"]["Authorization"] == "Bearer wrong"

    with pytest.raises(DeliveryFailed) as down:
        stow.check(
            dicomweb_destination(northside, None, url=f"http://127.0.0.1:{services.closed_port()}")
        )
    assert "connection refused" in str(down.value)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://pacs.example.org/dicom-web/", True),
        ("http://10.0.0.5:8042/dicom-web", True),
        ("ftp://pacs.example.org/", False),
        ("https://user:pw@pacs.example.org/dicom-web", False),
        ("https://pacs.example.org/dicom-web?x=1", False),
        ("https:///dicom-web", False),
        ("pacs.example.org", False),
        ("https://pacs.example.org:99999/", False),
    ],
)
def test_urls_are_checked(url, ok):
    if ok:
        assert stow.check_url(url) == url.rstrip("/")
    else:
        with pytest.raises(ValueError):
            stow.check_url(url)


def test_describe_never_shows_credentials(northside):
    destination = dicomweb_destination(
        northside, None, token="tok", url="https://user:pw@pacs.example.org:8443/dicom-web/"
    )
    assert destination.address == "https://pacs.example.org:8443/dicom-web"
