"""One webhook POST, to an address checked beforehand, with a 10-second budget.

The connection goes to the IP address ``addresses.resolve`` checked, while the request
names the host (``Host`` header, TLS SNI and certificate check), so DNS cannot be asked
twice. Redirects are never followed: a 3xx is an answer like any other non-2xx. Only the
first kilobyte of the answer is read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from integrations.webhooks import addresses
from portal.text import clean_text

TIMEOUT = 10.0  # seconds, connecting and reading together
EXCERPT_LIMIT = 1024
USER_AGENT = "Clarius-Portal-Webhooks/1"


class SendFailed(Exception):
    """No answer: refused, timed out, TLS failed, the address was not allowed."""


@dataclass(frozen=True)
class Answer:
    status: int
    latency_ms: int
    excerpt: str
    location: str = ""


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, headers: dict[str, str], body: bytes, *, timeout: float | None = None) -> Answer:
    """POST ``body`` to ``url``; the answer, or ``SendFailed``/``addresses.UrlRefused``."""
    timeout = timeout or TIMEOUT
    target, found = addresses.check(url)
    address = found[0]
    connection_class = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    started = time.monotonic()

    def remaining():
        left = timeout - (time.monotonic() - started)
        if left <= 0:
            raise TimeoutError(f"no answer within {timeout:g} s")
        return left

    connection = connection_class(target.host, target.port, address, timeout)
    try:
        connection.connect()
        sock = connection.sock  # http.client lets go of it once the answer is read
        sock.settimeout(remaining())
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        sock.settimeout(remaining())
        response = connection.getresponse()
        latency_ms = int((time.monotonic() - started) * 1000)
        sock.settimeout(remaining())
        raw = response.read(EXCERPT_LIMIT)
    except TimeoutError:
        raise SendFailed(f"no answer within {timeout:g} s") from None
    except ssl.SSLError as e:
        raise SendFailed(f"TLS failed: {e}") from None
    except (OSError, http.client.HTTPException) as e:
        raise SendFailed(f"{type(e).__name__}: {e}") from None
    finally:
        connection.close()
    excerpt = clean_text(
        raw.decode("utf-8", errors="replace"), max_length=EXCERPT_LIMIT, multiline=True
    )
    return Answer(
        status=response.status,
        latency_ms=latency_ms,
        excerpt=excerpt,
        location=clean_text(response.getheader("Location") or "", max_length=300),
    )
