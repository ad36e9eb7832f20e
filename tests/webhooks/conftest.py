"""A real receiving HTTP server, and endpoints of the trio's institutions pointing at it.

The receiver records every request (headers and raw body) and answers what the test
queues: a status (``200``, ``500``, ``302``), ``"hang"`` (no answer for a while), in
order, then ``200``. Signatures are verified with the ``standardwebhooks`` package, an
implementation independent of the portal's.
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from integrations.webhooks import endpoints


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list = []
        self.hang_seconds = 3.0
        self.redirect_to = ""
        self.arrived = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                receiver.arrived.set()
                answer = receiver.answers.pop(0) if receiver.answers else 200
                if answer == "hang":
                    receiver.release.wait(receiver.hang_seconds)
                    answer = 200
                self.send_response(answer)
                if answer in (301, 302, 307, 308):
                    self.send_header("Location", receiver.redirect_to or "http://127.0.0.1:9/")
                reply = b'{"ok": true}' if answer < 300 else b"receiver says \x00no\x1b[31m" * 200
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def verified(self, secret: str) -> list[dict]:
        """Every request's JSON, each verified with ``secret`` (raises if one is not)."""
        return [
            Webhook(secret).verify(r["body"], {k.lower(): v for k, v in r["headers"].items()})
            for r in self.requests
        ]

    def ids(self) -> list[str]:
        return [r["headers"]["webhook-id"] for r in self.requests]

    def bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def other_receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


@pytest.fixture
def hooked(northside, receiver):
    """Northside's endpoint for every event type, at the receiver; (endpoint, secret)."""
    return endpoints.create(northside, receiver.url, endpoints.events.EVENT_TYPES)
