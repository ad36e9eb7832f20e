"""Fault injection: make the next few matching requests fail, stall or hang.

A fault is consumed by the requests it hits (``count``), so a test can say "the next two
downloads answer 503 with Retry-After, then things recover" and watch the client's retry
policy do its job. The same board serves the API and the media server.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.wrappers import Response

# A hang lasts this long at most; any sane client read timeout is shorter.
HANG_SECONDS = 30.0


@dataclass
class Fault:
    path_regex: str
    method: str | None = None
    status: int | None = None
    count: int = 1
    delay: float = 0.0
    timeout: bool = False
    retry_after: int | None = None
    body: str | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.pattern = re.compile(self.path_regex)
        self.method = self.method.upper() if self.method else None
        if self.count < 1:
            raise ValueError("count must be at least 1")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.delay < 0:
            raise ValueError("delay must not be negative")
        if self.status is None and not self.timeout and not self.delay:
            raise ValueError("a fault needs a status, a delay or timeout=true")

    def matches(self, path: str, method: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.pattern.search(path))

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("pattern", None)
        return data


class FaultBoard:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        # Set to end every stall and hang at once (reset or stop), then replaced.
        self._release = threading.Event()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults = []
            self._release.set()
            self._release = threading.Event()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_json() for f in self._faults]

    def take(self, path: str, method: str) -> Fault | None:
        """The first fault matching this request, with one use consumed."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(path, method):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def wrap(self, app: Callable, path_of: Callable[[str], str | None]) -> Callable:
        """WSGI middleware; ``path_of`` maps PATH_INFO to the matched path (None: exempt)."""

        def middleware(environ: dict, start_response: Callable) -> Iterable[bytes]:
            path = path_of(environ.get("PATH_INFO", ""))
            fault = self.take(path, environ["REQUEST_METHOD"]) if path is not None else None
            if fault is None:
                return app(environ, start_response)
            release = self._release
            if fault.delay:
                release.wait(fault.delay)
            if fault.timeout:
                release.wait(HANG_SECONDS)
                # Nobody should still be listening; say so in case someone is.
                return _respond(504, None, None, "Injected hang ended")(environ, start_response)
            if fault.status is not None:
                response = _respond(fault.status, fault.body, fault.retry_after, "Injected fault")
                return response(environ, start_response)
            return app(environ, start_response)

        return middleware


def _respond(status: int, body: str | None, retry_after: int | None, reason: str) -> Response:
    if body is None:
        body, mimetype = json.dumps({"detail": f"{reason}: HTTP {status}"}), "application/json"
    else:
        mimetype = "application/json" if body.lstrip()[:1] in ("{", "[") else "text/plain"
    response = Response(body, status=status, mimetype=mimetype)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response
