"""Clarius sandbox fixtures, shared by every test folder (imported by tests/conftest.py).

``clarius_sandbox`` is what tests take: a started ``Sandbox`` in a fresh state (same
ports and API key all session long). ``clarius_settings`` points the portal's settings
at it. ``clarius_webhook_receiver`` is a tiny HTTP server standing in for the portal's
notification endpoint when a test only needs to see what Clarius sent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from clarius_sandbox import Sandbox


@pytest.fixture(scope="session")
def clarius_sandbox_server():
    sandbox = Sandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def clarius_sandbox(clarius_sandbox_server):
    clarius_sandbox_server.reset()
    yield clarius_sandbox_server
    # Leave no injected hang or queued delivery behind for the next test.
    clarius_sandbox_server.reset()


class SandboxApi:
    """``requests`` bound to the sandbox's API root, with one ``Authorization`` header."""

    def __init__(self, sandbox: Sandbox, authorization: str | None) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.trust_env = False
        if authorization:
            self.session.headers["Authorization"] = authorization

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.sandbox.api_url + path

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def sandbox_api(clarius_sandbox):
    """The Service API, authenticated with the sandbox's onboarding key."""
    return SandboxApi(clarius_sandbox, f"Service-API-Key {clarius_sandbox.api_key}")


@pytest.fixture
def sandbox_research(clarius_sandbox):
    """The Research API, authenticated with a token from ``token-auth/``."""
    return SandboxApi(clarius_sandbox, f"Token {clarius_sandbox.research_token}")


@pytest.fixture
def sandbox_anonymous(clarius_sandbox):
    return SandboxApi(clarius_sandbox, None)


@pytest.fixture
def clarius_settings(settings, clarius_sandbox):
    settings.CLARIUS_API_URL = clarius_sandbox.api_url
    settings.CLARIUS_API_KEY = clarius_sandbox.api_key
    settings.CLARIUS_MEDIA_ORIGINS = [clarius_sandbox.media_origin]
    return settings


@dataclass
class ReceivedNotification:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Records every POST; answers ``status`` after sleeping ``delay`` seconds."""

    url: str
    status: int = 200
    delay: float = 0.0
    received: list[ReceivedNotification] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedNotification]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.received


@pytest.fixture
def clarius_webhook_receiver():
    receiver = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.received.append(ReceivedNotification(self.path, dict(self.headers), body))
            if receiver.delay:
                time.sleep(receiver.delay)
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, format, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_port}/clarius/notifications/s3cret/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
