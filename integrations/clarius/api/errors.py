"""What can go wrong when talking to Clarius Cloud, as a small exception hierarchy.

Every error carries ``permanent``: ``True`` means "trying the same thing again will fail
the same way" (bad credentials, no such exam, a refused URL), ``False`` means "retry later
with backoff" (network trouble, 5xx, rate limiting, an exam still being processed).
Task code decides retries on that flag alone.

Nothing secret ever reaches an error: response excerpts are scrubbed of the API key,
research token and password before they are stored, and URLs are shown without their
query string (pre-signed media links carry signatures there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from portal.text import clean_text

EXCERPT_LIMIT = 300

# An echoed Authorization header, whatever credential it carried.
_AUTH_HEADER_RE = re.compile(r"(Service-API-Key|Token|Bearer|Basic)(\s+)[^\s\"',;}]+", re.I)


def mask_secret(secret: str | None) -> str:
    """``Q4nmtzH5.mvIz...`` → ``Q4nmtzH5.***``; a token without a prefix → ``e11f***``."""
    if not secret:
        return "None"
    prefix, dot, _ = secret.partition(".")
    if dot and 0 < len(prefix) <= 16:
        return f"{prefix}.***"
    return f"{secret[:4]}***" if len(secret) >= 16 else "***"


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove every given secret (and its part after the prefix) from ``text``."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, mask_secret(secret))
        _, dot, tail = secret.partition(".")
        if dot and len(tail) >= 8:
            text = text.replace(tail, "***")
    return _AUTH_HEADER_RE.sub(r"\1\2***", text)


def redact_url(url: str) -> str:
    """The URL without userinfo, query or fragment: safe for logs and messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<malformed URL>"
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host:
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def excerpt(text: str, secrets: Iterable[str | None] = ()) -> str:
    """At most ``EXCERPT_LIMIT`` characters of a scrubbed response body, on one line and
    without NUL or other controls: it ends up in ``last_error`` columns and logs."""
    return clean_text(scrub(text, secrets), max_length=EXCERPT_LIMIT)


class ClariusError(Exception):
    """Base of every Clarius client error.

    ``status`` is the HTTP status when there was a response, ``body_excerpt`` at most
    300 scrubbed characters of its body; ``permanent`` says whether a retry can help.
    """

    permanent: bool = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body_excerpt: str = "",
        permanent: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body_excerpt = body_excerpt[:EXCERPT_LIMIT]
        if permanent is not None:
            self.permanent = permanent

    def __str__(self) -> str:
        if self.body_excerpt:
            return f"{self.message}: {self.body_excerpt}"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class InvalidParameter(ClariusError, ValueError):
    """An argument was refused client-side; no request was made."""


class OriginRefused(ClariusError):
    """The origin guard refused a URL (wrong host, scheme, path or form); no request made."""


class TransportError(ClariusError):
    """The request did not get an HTTP answer: connection refused or reset, or a timeout."""

    permanent = False

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class InvalidResponse(ClariusError):
    """A 2xx answer whose body is not the documented shape (not JSON, a missing field).

    Not permanent: a proxy's error page or a half-deployed vendor release passes.
    """

    permanent = False


class UnexpectedRedirect(ClariusError):
    """A 3xx from the API (never followed with credentials), or too many media redirects."""


class MediaTooLarge(ClariusError):
    """A media download announced or reached more bytes than the cap; nothing was kept."""


class HTTPError(ClariusError):
    """A 4xx answer with no more specific class below; permanent."""


class BadRequest(HTTPError):
    """400. ``still_processing`` is True when Clarius says the exam is not ready yet,
    which, unlike every other 400, is worth retrying later."""

    def __init__(self, message: str, *, still_processing: bool = False, **kwargs) -> None:
        kwargs.setdefault("permanent", not still_processing)
        super().__init__(message, **kwargs)
        self.still_processing = still_processing


class AuthError(HTTPError):
    """The credential was refused."""


class Unauthorized(AuthError):
    """401, or invalid research credentials: the key or token is wrong or revoked."""


class Forbidden(AuthError):
    """403: authenticated, but not allowed (e.g. no Research Bundle for this exam)."""


class NotFound(HTTPError):
    """404: no such resource (or, for customer confirmation, no such customer token)."""


class RateLimited(ClariusError):
    """429. ``retry_after`` is the server's wait in seconds when it said one."""

    permanent = False

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ClariusError):
    """5xx: Clarius is having trouble; retry later."""

    permanent = False


_STILL_PROCESSING_RE = re.compile(r"still\s+(being\s+)?process|not\s+(yet\s+)?processed", re.I)


def is_still_processing(body: str) -> bool:
    """Whether a 400 body says the exam is still being processed."""
    return bool(_STILL_PROCESSING_RE.search(body))


def error_for_status(
    status: int,
    body: str,
    *,
    what: str,
    secrets: Iterable[str | None] = (),
    retry_after: float | None = None,
) -> ClariusError:
    """The exception for a non-2xx answer to ``what`` (``"GET <redacted url>"``)."""
    secrets = list(secrets)
    body_excerpt = excerpt(body, secrets)
    message = scrub(f"{what} → HTTP {status}", secrets)
    common = {"status": status, "body_excerpt": body_excerpt}
    if status == 400:
        return BadRequest(message, still_processing=is_still_processing(body), **common)
    if status == 401:
        return Unauthorized(message, **common)
    if status == 403:
        return Forbidden(message, **common)
    if status == 404:
        return NotFound(message, **common)
    if status == 429:
        return RateLimited(message, retry_after=retry_after, **common)
    if status >= 500:
        return ServerError(message, **common)
    if 300 <= status < 400:
        return UnexpectedRedirect(message, **common)
    return HTTPError(message, **common)
