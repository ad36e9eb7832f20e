"""HTTP for the Clarius client: timeouts, the one retry policy, credentials, error mapping.

Two kinds of request, each through the origin guard first:

* :meth:`Transport.api` — to the Clarius API with an ``Authorization`` header. The URL must
  pass :meth:`OriginGuard.check_api`; redirects are never followed (a 3xx is an error).
* :meth:`Transport.open_media` — a download **without any credential** (no
  ``Authorization``, no cookies, no ``.netrc``). Each URL, and each redirect target (at most
  ``max_redirects``), must pass :meth:`OriginGuard.check_media`.

Retry policy (the only one in the client): safe methods (GET, HEAD, PUT, DELETE, OPTIONS)
are retried up to ``RetryPolicy.retries`` times on connection errors, timeouts, 429 and
5xx, with exponential backoff and full jitter; a ``Retry-After`` (on a 429 or a 5xx) is
honoured when it is no longer than ``RetryPolicy.max_retry_after`` (longer: give up at
once and let the caller reschedule). POST and PATCH are never retried here: the caller
sees the error and its ``permanent`` flag.

The session is used for its connection pool, adapters, TLS and proxy settings only:
requests are prepared without it, so its headers, cookies and auth never leak into a
request.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any, BinaryIO
from urllib.parse import urljoin

import requests

from integrations.clarius.api.errors import (
    InvalidParameter,
    RateLimited,
    TransportError,
    UnexpectedRedirect,
    error_for_status,
    redact_url,
    scrub,
)
from integrations.clarius.api.origin import OriginGuard

log = logging.getLogger(__name__)

USER_AGENT = "clarius-portal/0.1 (+python-requests)"
SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# How much of an error body is read to build an excerpt: the excerpt is 300 characters,
# a little more leaves room for scrubbing and multi-byte characters.
ERROR_BODY_BYTES = 4096

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``download_read`` is the gap allowed between two chunks of a media download."""

    connect: float = 5.0
    read: float = 30.0
    download_read: float = 120.0

    def for_api(self) -> tuple[float, float]:
        return (self.connect, self.read)

    def for_download(self) -> tuple[float, float]:
        return (self.connect, self.download_read)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt *n* waits ``uniform(0, min(cap, base·2ⁿ))``."""

    retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_retry_after: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.backoff_cap, self.backoff_base * (2**attempt)))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _blocking_cookie_policy() -> DefaultCookiePolicy:
    # The API authenticates by header; a cookie set by any host must never be replayed.
    return DefaultCookiePolicy(allowed_domains=[])


def new_session(pool_size: int = 10) -> requests.Session:
    """A session that keeps no cookies, with a modest connection pool."""
    session = requests.Session()
    session.cookies.set_policy(_blocking_cookie_policy())
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class Transport:
    """Sends guarded, timed, retried requests; maps failures to ``ClariusError`` subclasses."""

    def __init__(
        self,
        guard: OriginGuard,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.guard = guard
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.session = session or new_session()
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def close(self) -> None:
        self.session.close()

    def api(
        self,
        method: str,
        url: str,
        *,
        authorization: str | None,
        secrets: Iterable[str | None] = (),
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """A request to the Clarius API; returns the 2xx response (body loaded) or raises.

        ``authorization`` is the full header value; ``secrets`` are scrubbed from any
        error. Raises ``OriginRefused`` before sending if ``url`` fails the API guard.
        """
        method = method.upper()
        self.guard.check_api(url)
        all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        all_headers.update(headers or {})
        if authorization:
            all_headers["Authorization"] = authorization
        request = requests.Request(
            method, url, headers=all_headers, params=params, json=json, data=data
        )
        secrets = list(secrets)
        response = self._send_with_retries(
            request, timeout=self.timeouts.for_api(), stream=False, secrets=secrets
        )
        if 300 <= response.status_code < 400:
            location = response.headers.get("Location", "")
            response.close()
            raise UnexpectedRedirect(
                f"{method} {redact_url(url)} → HTTP {response.status_code} redirect to "
                f"{redact_url(location) if location else 'nowhere'}; the API is not expected "
                "to redirect and credentials are never sent along",
                status=response.status_code,
            )
        if response.status_code >= 400:
            raise self._error(response, method, url, secrets)
        return response

    def open_media(self, url: str, *, max_redirects: int = 3) -> requests.Response:
        """Open a credential-free, streamed GET of ``url``; the caller must close the response.

        Redirects are followed by hand, at most ``max_redirects``, each target checked by
        the media guard. Raises ``OriginRefused``, ``UnexpectedRedirect``, the mapped HTTP
        error, or ``TransportError``.
        """
        current = url
        for _ in range(max_redirects + 1):
            self.guard.check_media(current)
            # No Authorization, no cookies: requests.Request(...).prepare() runs without
            # the session, so neither the session's cookie jar nor .netrc can add one.
            request = requests.Request(
                "GET", current, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
            )
            response = self._send_with_retries(
                request, timeout=self.timeouts.for_download(), stream=True, secrets=()
            )
            if response.status_code in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                response.close()
                if not location:
                    raise UnexpectedRedirect(
                        f"GET {redact_url(current)} → HTTP {response.status_code} without "
                        "a Location",
                        status=response.status_code,
                    )
                current = urljoin(current, location)
                continue
            if response.status_code >= 300:
                raise self._error(response, "GET", current, ())
            return response
        raise UnexpectedRedirect(f"GET {redact_url(url)}: more than {max_redirects} redirects")

    def _send_with_retries(
        self,
        request: requests.Request,
        *,
        timeout: tuple[float, float],
        stream: bool,
        secrets: list[str | None],
    ) -> requests.Response:
        """Send ``request``, retrying safe methods per ``self.retry``; never follows redirects.

        Returns the last response (any status) or raises ``TransportError``/``RateLimited``.
        """
        method = request.method.upper()
        retryable = method in SAFE_METHODS
        shown = f"{method} {redact_url(request.url)}"
        attempt = 0
        while True:
            prepared = request.prepare()
            try:
                response = self.session.send(
                    prepared, timeout=timeout, allow_redirects=False, stream=stream
                )
            except requests.exceptions.InvalidURL:
                raise TransportError(scrub(f"{shown}: invalid URL", secrets)) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
                timed_out = _is_timeout(e)
                reason = "timed out" if timed_out else "connection failed"
                if retryable and attempt < self.retry.retries:
                    wait = self.retry.backoff(attempt, self.rng)
                    log.warning("Clarius %s %s; retry in %.2fs", shown, reason, wait)
                    self.sleep(wait)
                    attempt += 1
                    continue
                raise TransportError(
                    scrub(f"{shown}: {reason} ({type(e).__name__})", secrets),
                    timeout=timed_out,
                ) from None  # requests' message holds the URL and its (signed) query

            status = response.status_code
            if status != 429 and status < 500:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if not retryable or attempt >= self.retry.retries:
                return response
            if retry_after is not None:  # a 429, or a 503 that says when to come back
                if retry_after > self.retry.max_retry_after:
                    # Waiting that long inside a worker is worse than rescheduling.
                    raise self._error(response, method, request.url, secrets)
                wait = retry_after
            else:
                wait = self.retry.backoff(attempt, self.rng)
            response.close()
            log.warning("Clarius %s → HTTP %s; retry in %.2fs", shown, status, wait)
            self.sleep(wait)
            attempt += 1

    @staticmethod
    def _error(
        response: requests.Response, method: str, url: str, secrets: Iterable[str | None]
    ) -> Exception:
        """The mapped exception for a non-2xx response; reads at most a few KiB of its body."""
        try:
            raw = next(response.iter_content(ERROR_BODY_BYTES), b"")
        except (requests.exceptions.RequestException, StopIteration):
            raw = b""
        finally:
            response.close()
        body = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        error = error_for_status(
            response.status_code,
            body,
            what=f"{method} {redact_url(url)}",
            secrets=secrets,
            retry_after=retry_after,
        )
        if isinstance(error, RateLimited):
            log.info("Clarius rate limit, Retry-After %s", retry_after)
        return error


def _is_timeout(error: BaseException) -> bool:
    if isinstance(error, requests.exceptions.Timeout):
        return True
    text = str(error).lower()
    return "timed out" in text or "timeout" in text


class MultipartBody:
    """A ``multipart/form-data`` body that streams its file instead of reading it whole.

    ``requests``' own ``files=`` encoder calls ``read()`` on the file and holds the whole
    body in memory. This object has ``__len__`` (so requests sends a ``Content-Length``,
    not chunked encoding, which some servers refuse for uploads) and ``__iter__`` (so
    urllib3 sends it chunk by chunk). The file must be seekable and must not change size
    while it is being sent.
    """

    CHUNK = 64 * 1024

    def __init__(
        self,
        fields: Mapping[str, str],
        *,
        file_field: str,
        fileobj: BinaryIO,
        filename: str,
        file_content_type: str,
    ) -> None:
        self.boundary = f"----clarius-portal-{uuid.uuid4().hex}"
        self.fileobj = fileobj
        self.start = fileobj.tell()
        fileobj.seek(0, os.SEEK_END)
        self.file_size = fileobj.tell() - self.start
        fileobj.seek(self.start)
        preamble = []
        for name, value in fields.items():
            preamble.append(self._part_header(name, None, None) + value.encode() + b"\r\n")
        preamble.append(self._part_header(file_field, filename, file_content_type))
        self.preamble = b"".join(preamble)
        self.epilogue = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.preamble) + self.file_size + len(self.epilogue)

    def __iter__(self) -> Iterator[bytes]:
        self.fileobj.seek(self.start)
        yield self.preamble
        remaining = self.file_size
        while remaining > 0:
            chunk = self.fileobj.read(min(self.CHUNK, remaining))
            if not chunk:
                # Content-Length is already on the wire: a short body would corrupt it.
                raise InvalidParameter("the report file shrank while it was being uploaded")
            remaining -= len(chunk)
            yield chunk
        yield self.epilogue

    def _part_header(self, name: str, filename: str | None, content_type: str | None) -> bytes:
        disposition = f'form-data; name="{_quote_param(name)}"'
        if filename is not None:
            disposition += f'; filename="{_quote_param(filename)}"'
        lines = [f"--{self.boundary}", f"Content-Disposition: {disposition}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _quote_param(value: str) -> str:
    # The HTML form encoding (WHATWG): percent-escape the three characters that would end
    # the quoted string or the header line; everything else goes as UTF-8.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
