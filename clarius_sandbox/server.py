"""``Sandbox``: the simulated Clarius Cloud, its API server and its media server.

Both servers are threaded werkzeug WSGI servers running in background threads of the
current process, so a test session can start one sandbox and talk to it over real HTTP,
and ``python -m clarius_sandbox`` can run it in the foreground for the demo.
No Django anywhere: the sandbox must start without settings.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .api import ApiApp, relative_api_path
from .control import ControlApp
from .faults import Fault, FaultBoard
from .media import MediaApp, MediaLinks
from .notifications import NotificationDispatcher
from .pages import PagesApp
from .signing import LinkSigner
from .state import SandboxRequest, SandboxState, SandboxUser, new_api_key

log = logging.getLogger(__name__)

_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{8}\.\S{8,}$")


class _DrainCappedReader:
    """The request stream, with werkzeug's after-response drain made cheap.

    After every response werkzeug's dev server discards unread input with
    ``rfile.read(10_000_000)``, and a buffered ``read(n)`` allocates ``n`` bytes up front:
    10 MB per request, which would hide whether media really streams in flat memory.
    Only reads that large are capped; the request body is read through ``readinto``.
    """

    DRAIN_SIZE = 10_000_000

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= self.DRAIN_SIZE:
            size = 64 * 1024
        return self._raw.read(size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _SandboxRequestHandler(WSGIRequestHandler):
    """Quiet by default (request lines are noise in a test run; the CLI turns them on)."""

    def setup(self) -> None:
        super().setup()
        self.rfile = _DrainCappedReader(self.rfile)  # type: ignore[assignment]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if getattr(self.server, "log_requests", False):
            super().log_request(code, size)


class Sandbox:
    def __init__(
        self,
        host: str = "127.0.0.1",
        api_port: int = 0,
        media_port: int = 0,
        api_key: str | None = None,
        research_username: str = "researcher@example.com",
        research_password: str = "research-pass",  # noqa: S107 -- a simulator's demo login
        notification_workers: bool = True,
        *,
        advertise_host: str | None = None,
        log_requests: bool = False,
        send_application: bool = False,
    ) -> None:
        if api_key is not None and not _KEY_FORMAT.match(api_key):
            raise ValueError("api_key must look like '<8 letters or digits>.<secret>'")
        self.host = host
        # Links must name a host clients can reach, not a wildcard bind address.
        self.advertise_host = advertise_host or (
            "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104
        )
        self._ports = (api_port, media_port)
        self.api_key = api_key or new_api_key()
        self.research_username = research_username
        self.research_password = research_password
        self.log_requests = log_requests
        self.faults = FaultBoard()
        self.state = SandboxState(
            "",
            self.api_key,
            research_username,
            research_password,
            send_application=send_application,
        )
        self.notifications = NotificationDispatcher(self.state, threaded=notification_workers)
        self.api_origin = self.media_origin = self.api_url = self.pages_url = ""
        self._servers: list[BaseWSGIServer] = []
        self._threads: list[threading.Thread] = []

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._servers:
            return self
        api_server = self._bind(self._ports[0])
        media_server = self._bind(self._ports[1])
        self.api_origin = self._origin(api_server)
        self.media_origin = self._origin(media_server)
        self.api_url = f"{self.api_origin}/api/public/v0/"
        self.pages_url = f"{self.api_origin}/sandbox/"
        self.state.api_url = self.api_url
        self.signer = LinkSigner(self.media_origin)
        self.links = MediaLinks(self.signer, self.state)

        api_app = ApiApp(self.state, self.links, PagesApp(self), ControlApp(self))
        api_server.app = self.faults.wrap(api_app, relative_api_path)
        media_server.app = self.faults.wrap(MediaApp(self.state, self.signer), lambda path: path)

        self.notifications.start()
        for name, server in (("api", api_server), ("media", media_server)):
            # A short poll interval makes stop() quick (shutdown waits for one poll).
            thread = threading.Thread(
                target=server.serve_forever,
                args=(0.1,),
                name=f"clarius-sandbox-{name}",
                daemon=True,
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        log.info("Clarius sandbox: API %s, media %s", self.api_url, self.media_origin)
        return self

    def _bind(self, port: int) -> BaseWSGIServer:
        # The real application is attached once both ports (and so the URLs) are known.
        server = make_server(
            self.host, port, _not_ready, threaded=True, request_handler=_SandboxRequestHandler
        )
        server.log_requests = self.log_requests  # type: ignore[attr-defined]
        return server

    def _origin(self, server: BaseWSGIServer) -> str:
        host = self.advertise_host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{server.server_port}"

    def stop(self) -> None:
        self.faults.clear()  # ends injected hangs so their threads finish
        self.notifications.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def reset(self) -> None:
        """A fresh account: same key, same ports; faults, users, exams, records all gone."""
        self.faults.clear()
        self.notifications.reset()
        self.state.clear()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # --- fault injection -------------------------------------------------------------------------

    def inject(
        self,
        path_regex: str,
        method: str | None = None,
        *,
        status: int | None = None,
        count: int = 1,
        delay: float = 0.0,
        timeout: bool = False,
        retry_after: int | None = None,
        body: str | None = None,
    ) -> None:
        """The next ``count`` matching requests fail (``status``), stall (``delay``) or hang.

        API paths are matched relative to the API root (``exams/accessible/``), media paths
        in full (``/clarius-exports/captures/...``), with ``re.search``.
        """
        self.faults.add(Fault(path_regex, method, status, count, delay, timeout, retry_after, body))

    def drop_notifications(self, count: int = 1) -> None:
        self.notifications.drop_next(count)

    # --- helpers for tests and the demo ---------------------------------------------------------

    def add_user(
        self, name: str, email: str | None = None, *, research_bundle: bool = False
    ) -> SandboxUser:
        return self.state.add_user(name, email, research_bundle=research_bundle)

    def upload_exam(
        self,
        user_or_token: SandboxUser | str,
        *,
        captures: int = 3,
        videos: int = 1,
        animal: bool = False,
        exam_uuid: str | None = None,
        notify: bool = True,
        capture_size: int | None = None,
        processing: bool = False,
        patient: dict[str, Any] | None = None,
        application: str | None = None,
    ) -> SandboxRequest:
        """Submit an exam as ``user_or_token``; notify the service if it registered a URL."""
        request = self.state.submit_exam(
            user_or_token,
            captures=captures,
            videos=videos,
            animal=animal,
            exam_uuid=exam_uuid,
            capture_size=capture_size,
            processing=processing,
            patient=patient,
            application=application,
        )
        if notify:
            self.notifications.notify(request)
        return request

    def wait_for_deliveries(self, timeout: float = 10) -> None:
        """Block until every queued notification was attempted (``TimeoutError`` if not)."""
        self.notifications.wait_idle(timeout)

    @property
    def research_token(self) -> str:
        """A Research API token, as ``POST token-auth/`` would hand out (for tests)."""
        token = self.state.issue_research_token(self.research_username, self.research_password)
        assert token is not None
        return token


def _not_ready(environ: dict, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]
