"""Media downloads against tiny local HTTP servers that record what they receive.

The sandbox covers the happy paths (test_download_sandbox.py); these servers produce the
cases it cannot: redirects, lying Content-Length, a connection cut mid-body, and they
record every header so "no credential, no cookie" is checked on the wire.
"""

import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from integrations.clarius.api.client import ServiceClient
from integrations.clarius.api.download import declared_content_type, sniff_media_type
from integrations.clarius.api.errors import (
    MediaTooLarge,
    NotFound,
    OriginRefused,
    TransportError,
    UnexpectedRedirect,
)
from integrations.clarius.api.transport import RetryPolicy, Timeouts

KEY = "Q4nmtzH5.mvIzWOlklcrFJ3iWaJTFESYCzCe8j6TQ"


class Route:
    def __init__(self, status=200, headers=None, body=b"", chunks=None, cut_after=None):
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.chunks = chunks  # an iterable of bytes, sent without Content-Length
        self.cut_after = cut_after  # send this many body bytes, then drop the connection


class RecordingServer:
    """An HTTP server on 127.0.0.1 answering from ``routes`` and recording every request."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append({"path": self.path, "headers": dict(self.headers)})
                route = server.routes.get(self.path.split("?")[0], Route(404, body=b"nope"))
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.chunks is not None:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in route.chunks:
                        self.wfile.write(chunk)
                    self.close_connection = True
                    return
                if "Content-Length" not in route.headers:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if route.cut_after is not None:
                    self.wfile.write(route.body[: route.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(route.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def media_server():
    server = RecordingServer()
    yield server
    server.close()


@pytest.fixture
def foreign_server():
    server = RecordingServer()
    yield server
    server.close()


@pytest.fixture
def api_server():
    server = RecordingServer()
    yield server
    server.close()


def make_client(api_server, media_server, **kwargs):
    kwargs.setdefault("retry", RetryPolicy(retries=0))
    return ServiceClient(
        f"{api_server.origin}/api/public/v0/",
        KEY,
        media_origins=[media_server.origin],
        allow_http=True,
        **kwargs,
    )


JPEG = b"\xff\xd8\xff\xe0" + os.urandom(200_000)


def no_part_files(directory):
    return [p.name for p in directory.iterdir() if p.name.endswith(".part")]


def test_it_streams_media_to_a_file_with_its_checksum_and_types(tmp_path, api_server, media_server):
    media_server.routes["/c.jpg"] = Route(headers={"Content-Type": "image/jpeg"}, body=JPEG)
    client = make_client(api_server, media_server)
    result = client.download_media(f"{media_server.origin}/c.jpg?sig=1", tmp_path / "c.jpg")
    assert result.path.read_bytes() == JPEG
    assert result.size == len(JPEG)
    assert result.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert (result.content_type, result.sniffed_type) == ("image/jpeg", "image/jpeg")
    assert no_part_files(tmp_path) == []


def test_it_sends_no_credential_and_no_cookie_with_media(tmp_path, api_server, media_server):
    media_server.routes["/c.jpg"] = Route(body=JPEG)
    session = requests.Session()
    # Everything a session could leak: a default header, auth, a cookie for the host.
    session.headers["Authorization"] = f"Service-API-Key {KEY}"
    session.auth = ("user", "password")
    session.cookies.set("sessionid", "s3cr3t", domain="127.0.0.1")
    client = make_client(api_server, media_server, session=session)
    client.download_media(f"{media_server.origin}/c.jpg", tmp_path / "c.jpg")
    headers = {name.lower() for name in media_server.requests[0]["headers"]}
    assert "authorization" not in headers
    assert "cookie" not in headers
    assert "proxy-authorization" not in headers


def test_api_requests_carry_the_key_but_no_session_cookie(api_server, media_server):
    api_server.routes["/api/public/v0/services/settings/"] = Route(
        headers={"Content-Type": "application/json"}, body=b'{"notification_url": ""}'
    )
    session = requests.Session()
    session.cookies.set("sessionid", "s3cr3t", domain="127.0.0.1")
    client = make_client(api_server, media_server, session=session)
    client.get_settings()
    headers = api_server.requests[0]["headers"]
    assert headers["Authorization"] == f"Service-API-Key {KEY}"
    assert "Cookie" not in headers


def test_it_follows_a_redirect_to_another_media_origin_without_credentials(
    tmp_path, api_server, media_server
):
    second = RecordingServer()
    try:
        second.routes["/real.jpg"] = Route(body=JPEG)
        media_server.routes["/c.jpg"] = Route(302, {"Location": f"{second.origin}/real.jpg"})
        client = ServiceClient(
            f"{api_server.origin}/api/public/v0/",
            KEY,
            media_origins=[media_server.origin, second.origin],
            allow_http=True,
        )
        result = client.download_media(f"{media_server.origin}/c.jpg", tmp_path / "c.jpg")
        assert result.size == len(JPEG)
        assert "Authorization" not in second.requests[0]["headers"]
    finally:
        second.close()


def test_a_redirect_off_the_media_origins_is_refused_before_it_is_followed(
    tmp_path, api_server, media_server, foreign_server
):
    foreign_server.routes["/x.jpg"] = Route(body=JPEG)
    media_server.routes["/c.jpg"] = Route(302, {"Location": f"{foreign_server.origin}/x.jpg"})
    client = make_client(api_server, media_server)
    with pytest.raises(OriginRefused):
        client.download_media(f"{media_server.origin}/c.jpg", tmp_path / "c.jpg")
    assert foreign_server.requests == []
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_to_a_file_url_is_refused(tmp_path, api_server, media_server):
    media_server.routes["/c.jpg"] = Route(302, {"Location": "file:///etc/passwd"})
    with pytest.raises(OriginRefused):
        make_client(api_server, media_server).download_media(
            f"{media_server.origin}/c.jpg", tmp_path / "c.jpg"
        )


def test_a_redirect_loop_stops(tmp_path, api_server, media_server):
    media_server.routes["/c.jpg"] = Route(302, {"Location": "/c.jpg"})
    with pytest.raises(UnexpectedRedirect):
        make_client(api_server, media_server).download_media(
            f"{media_server.origin}/c.jpg", tmp_path / "c.jpg"
        )
    assert len(media_server.requests) == 4  # the first try and three redirects


def test_an_api_redirect_is_an_error_and_is_not_followed(api_server, media_server, foreign_server):
    target = f"{foreign_server.origin}/api/public/v0/services/settings/"
    api_server.routes["/api/public/v0/services/settings/"] = Route(302, {"Location": target})
    with pytest.raises(UnexpectedRedirect) as excinfo:
        make_client(api_server, media_server).get_settings()
    assert excinfo.value.status == 302
    assert foreign_server.requests == []


def test_media_from_a_foreign_origin_is_refused_without_a_request(
    tmp_path, api_server, media_server, foreign_server
):
    foreign_server.routes["/c.jpg"] = Route(body=JPEG)
    with pytest.raises(OriginRefused):
        make_client(api_server, media_server).download_media(
            f"{foreign_server.origin}/c.jpg", tmp_path / "c.jpg"
        )
    assert foreign_server.requests == []


def test_an_announced_size_over_the_cap_is_refused_before_reading(
    tmp_path, api_server, media_server
):
    media_server.routes["/big.mp4"] = Route(body=b"\x00" * 100_000)
    client = make_client(api_server, media_server)
    with pytest.raises(MediaTooLarge) as excinfo:
        client.download_media(
            f"{media_server.origin}/big.mp4", tmp_path / "big.mp4", max_bytes=1000
        )
    assert excinfo.value.permanent is True
    assert list(tmp_path.iterdir()) == []


def test_a_body_over_the_cap_without_a_length_is_cut_off_and_nothing_is_kept(
    tmp_path, api_server, media_server
):
    media_server.routes["/big.mp4"] = Route(chunks=(b"\x00" * 65536 for _ in range(64)))
    client = make_client(api_server, media_server)
    with pytest.raises(MediaTooLarge):
        client.download_media(
            f"{media_server.origin}/big.mp4", tmp_path / "big.mp4", max_bytes=1_000_000
        )
    assert list(tmp_path.iterdir()) == []


def test_a_connection_cut_mid_body_leaves_no_file(tmp_path, api_server, media_server):
    media_server.routes["/c.jpg"] = Route(body=JPEG, cut_after=10_000)
    with pytest.raises(TransportError) as excinfo:
        make_client(api_server, media_server).download_media(
            f"{media_server.origin}/c.jpg", tmp_path / "c.jpg"
        )
    assert excinfo.value.permanent is False
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_keeps_an_existing_file_intact(tmp_path, api_server, media_server):
    destination = tmp_path / "c.jpg"
    destination.write_bytes(b"previous")
    media_server.routes["/c.jpg"] = Route(body=JPEG, cut_after=10)
    with pytest.raises(TransportError):
        make_client(api_server, media_server).download_media(
            f"{media_server.origin}/c.jpg", destination
        )
    assert destination.read_bytes() == b"previous"
    assert no_part_files(tmp_path) == []


def test_a_media_404_is_not_found(tmp_path, api_server, media_server):
    with pytest.raises(NotFound):
        make_client(api_server, media_server).download_media(
            f"{media_server.origin}/gone.jpg", tmp_path / "c.jpg"
        )
    assert list(tmp_path.iterdir()) == []


def test_a_stalled_media_server_times_out(tmp_path, api_server):
    # A listening socket that never answers: the read timeout must fire.
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    origin = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        client = ServiceClient(
            f"{api_server.origin}/api/public/v0/",
            KEY,
            media_origins=[origin],
            allow_http=True,
            retry=RetryPolicy(retries=0),
            timeouts=Timeouts(connect=1, read=1, download_read=0.3),
        )
        with pytest.raises(TransportError) as excinfo:
            client.download_media(f"{origin}/c.jpg", tmp_path / "c.jpg")
        assert excinfo.value.timeout is True
    finally:
        listener.close()


@pytest.mark.parametrize(
    "head, expected",
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"\x00" * 128 + b"DICM\x02\x00", "application/dicom"),
        (b"PK\x03\x04", "application/zip"),
        (b"<html>", None),
        (b"", None),
    ],
)
def test_it_sniffs_media_types(head, expected):
    assert sniff_media_type(head) == expected


def test_it_reads_the_declared_type_without_parameters():
    assert declared_content_type("Image/JPEG; charset=binary") == "image/jpeg"
    assert declared_content_type(None) is None


# --- the API origin guard on the wire: `next` links ---------------------------------------


def page(next_url, request_uuid):
    item = {"request_uuid": request_uuid, "download_url": "https://x/y/"}
    body = {"count": 2, "next": next_url, "previous": None, "results": [item]}
    return Route(headers={"Content-Type": "application/json"}, body=json.dumps(body).encode())


def test_a_next_link_on_a_foreign_origin_is_refused_before_the_key_goes_there(
    api_server, media_server, foreign_server
):
    foreign_next = f"{foreign_server.origin}/api/public/v0/exams/accessible/?offset=1"
    api_server.routes["/api/public/v0/exams/accessible/"] = page(foreign_next, "r1")
    foreign_server.routes["/api/public/v0/exams/accessible/"] = page(None, "r2")
    exams = make_client(api_server, media_server).iter_accessible_exams()
    assert next(exams).request_uuid == "r1"
    with pytest.raises(OriginRefused):
        next(exams)
    assert foreign_server.requests == []


def test_a_next_link_outside_the_api_path_is_refused(api_server, media_server):
    outside = f"{api_server.origin}/admin/exams/?offset=1"
    api_server.routes["/api/public/v0/exams/accessible/"] = page(outside, "r1")
    with pytest.raises(OriginRefused):
        list(make_client(api_server, media_server).iter_accessible_exams())
    assert [r["path"] for r in api_server.requests] == ["/api/public/v0/exams/accessible/"]


def test_a_relative_next_link_is_followed_on_the_api_origin(api_server, media_server):
    api_server.routes["/api/public/v0/exams/accessible/"] = page("page2/?offset=1", "r1")
    api_server.routes["/api/public/v0/exams/accessible/page2/"] = page(None, "r2")
    exams = list(make_client(api_server, media_server).iter_accessible_exams())
    assert [e.request_uuid for e in exams] == ["r1", "r2"]
    assert api_server.requests[1]["headers"]["Authorization"] == f"Service-API-Key {KEY}"


def test_a_next_link_pointing_at_itself_stops(api_server, media_server):
    self_link = f"{api_server.origin}/api/public/v0/exams/accessible/"
    api_server.routes["/api/public/v0/exams/accessible/"] = page(self_link, "r1")
    from integrations.clarius.api.errors import InvalidResponse

    with pytest.raises(InvalidResponse):
        list(make_client(api_server, media_server).iter_accessible_exams())
