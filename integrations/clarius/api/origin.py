"""The origin guard: the one place that decides which URLs the client may fetch, and how.

Two questions, two methods:

* :meth:`OriginGuard.check_api` — may this URL receive the Service API key or research
  token? Only if it is on the configured ``CLARIUS_API_URL`` origin (scheme, host and
  effective port all equal) **and** under its path prefix.
* :meth:`OriginGuard.check_media` — may this URL be fetched, *without any credential*,
  as capture media / raw data / DICOM? Only if it is on one of ``CLARIUS_MEDIA_ORIGINS``
  (a host may start with ``*.``, which matches one or more labels in front of the rest,
  never the bare rest and never a look-alike such as ``evil-amazonaws.com``) or on the
  API origin.

Both refuse, with :class:`~integrations.clarius.api.errors.OriginRefused` and before any
request is made: schemes other than http(s); ``http`` unless ``allow_http`` (DEBUG, tests,
the sandbox); userinfo (``https://user@host``); whitespace or control characters; hosts
that are not plain DNS names or IP literals; and dot segments (``..``) in the path, which
HTTP libraries collapse *after* any prefix check. A refused URL is never normalised into
an accepted one: the guard answers yes or no about exactly the string that will be sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from integrations.clarius.api.errors import OriginRefused, redact_url

DEFAULT_PORTS = {"http": 80, "https": 443}

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_HOST_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_IPV4_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_IPV6_RE = re.compile(r"^[0-9a-f:.]+$")
_FORBIDDEN_CHARS_RE = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True)
class Origin:
    """``scheme://host:port``; ``wildcard`` means the pattern ``*.host``."""

    scheme: str
    host: str
    port: int
    wildcard: bool = False

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme or port != self.port:
            return False
        if not self.wildcard:
            return host == self.host
        # On a label boundary, with at least one label in front: `a.amazonaws.com` and
        # `a.b.amazonaws.com` match `*.amazonaws.com`; `amazonaws.com` and
        # `evil-amazonaws.com` do not. Wildcards never match IP literals.
        if _IPV4_RE.match(host) or ":" in host:
            return False
        return host.endswith("." + self.host) and len(host) > len(self.host) + 1

    def __str__(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_origin(value: str) -> Origin:
    """Parse ``scheme://host[:port]`` (host may start with ``*.``) into an :class:`Origin`.

    Raises ``ValueError`` on anything else (a path, userinfo, another scheme).
    """
    text = value.strip().rstrip("/").lower()
    wildcard = False
    scheme, sep, rest = text.partition("://")
    if sep and rest.startswith("*."):
        wildcard = True
        text = f"{scheme}://{rest[2:]}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"not an origin: {value!r} ({e})") from None
    if (
        parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
        or not _valid_host(parts.hostname)
    ):
        raise ValueError(f"not an origin of the form scheme://host[:port]: {value!r}")
    return Origin(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port if port is not None else DEFAULT_PORTS[parts.scheme],
        wildcard=wildcard,
    )


def _valid_host(host: str) -> bool:
    if ":" in host:  # an IPv6 literal (urlsplit removed the brackets)
        return bool(_IPV6_RE.match(host))
    if _IPV4_RE.match(host):
        return all(int(octet) <= 255 for octet in host.split("."))
    return bool(_DNS_HOST_RE.match(host))


def _has_dot_segment(path: str) -> bool:
    # urllib3 removes "." and ".." segments (RFC 3986 §5.2.4) before sending, so
    # "/api/public/v0/../../admin/" would pass a naive prefix check and land elsewhere.
    return any(unquote(segment) in (".", "..") for segment in path.split("/"))


class OriginGuard:
    """Decides, for one configuration, which URLs may be fetched with or without credentials.

    ``api_url`` is the Clarius API root (``CLARIUS_API_URL``); ``media_origins`` the extra
    origins media may come from (``CLARIUS_MEDIA_ORIGINS``). ``allow_http`` permits plain
    ``http`` (development, tests, the sandbox); without it only ``https`` passes, and an
    ``http`` API URL is refused at construction.
    """

    def __init__(
        self, api_url: str, media_origins: Iterable[str] = (), *, allow_http: bool = False
    ) -> None:
        self.allow_http = allow_http
        parts = self._split(api_url, purpose="API root")
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        if parts.query or parts.fragment:
            raise OriginRefused(f"API root must not have a query: {redact_url(api_url)}")
        self.api_origin = Origin(parts.scheme, parts.hostname or "", self._port(parts))
        self.api_path_prefix = path
        self.api_url = f"{parts.scheme}://{parts.netloc}{path}"
        self.media_origins = tuple(parse_origin(origin) for origin in media_origins)

    def check_api(self, url: str) -> str:
        """Return ``url`` if the API credential may be sent to it, else raise ``OriginRefused``."""
        parts = self._split(url, purpose="API request")
        scheme, host, port = parts.scheme, parts.hostname or "", self._port(parts)
        if not self.api_origin.matches(scheme, host, port):
            raise OriginRefused(
                f"refusing to send Clarius credentials to {redact_url(url)}: "
                f"not the configured API origin {self.api_origin}"
            )
        if not parts.path.startswith(self.api_path_prefix):
            raise OriginRefused(
                f"refusing to send Clarius credentials to {redact_url(url)}: "
                f"outside the API path {self.api_path_prefix}"
            )
        return url

    def check_media(self, url: str) -> str:
        """Return ``url`` if it may be fetched (without credentials) as media, else raise."""
        parts = self._split(url, purpose="media download")
        scheme, host, port = parts.scheme, parts.hostname or "", self._port(parts)
        if self.api_origin.matches(scheme, host, port):
            return url
        if any(origin.matches(scheme, host, port) for origin in self.media_origins):
            return url
        raise OriginRefused(
            f"refusing to download media from {redact_url(url)}: not the API origin and "
            "not in CLARIUS_MEDIA_ORIGINS"
        )

    def _split(self, url: str, *, purpose: str) -> SplitResult:
        """Split ``url`` after the checks common to every request; raise if refused."""
        if not isinstance(url, str) or not url:
            raise OriginRefused(f"{purpose}: no URL given")
        if _FORBIDDEN_CHARS_RE.search(url):
            raise OriginRefused(f"{purpose}: URL contains whitespace, control or '\\' characters")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise OriginRefused(f"{purpose}: malformed URL {redact_url(url)}") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            shown = scheme or "no scheme"
            raise OriginRefused(f"{purpose}: only http(s) URLs are fetched, got {shown}")
        if scheme == "http" and not self.allow_http:
            raise OriginRefused(
                f"{purpose}: plain http is refused in production: {redact_url(url)}"
            )
        if "@" in parts.netloc:
            raise OriginRefused(f"{purpose}: URLs with userinfo are refused")
        if not parts.hostname or not _valid_host(parts.hostname):
            raise OriginRefused(f"{purpose}: not a valid host in {redact_url(url)}")
        if _has_dot_segment(parts.path):
            raise OriginRefused(f"{purpose}: dot segments in the path of {redact_url(url)}")
        return parts._replace(scheme=scheme)

    @staticmethod
    def _port(parts: SplitResult) -> int:
        return parts.port if parts.port is not None else DEFAULT_PORTS[parts.scheme]

    def __repr__(self) -> str:
        media = ", ".join(str(origin) for origin in self.media_origins)
        return f"OriginGuard(api={self.api_url!r}, media=[{media}], allow_http={self.allow_http})"
