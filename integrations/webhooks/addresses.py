"""Where a webhook may go: the URL rules, checked at registration and again at send time.

- ``https://`` only, unless ``PORTAL_WEBHOOKS_ALLOW_HTTP`` (on in development);
- no credentials in the URL, no fragment, a host and a valid port;
- every address the host resolves to must be public: loopback, link-local, private,
  shared, multicast, reserved and unspecified addresses (IPv4-mapped IPv6 included) are
  refused unless ``PORTAL_WEBHOOKS_ALLOW_PRIVATE`` (on in development).

``resolve`` returns the checked addresses; the sender connects to one of them (never
resolving the name again), so a DNS answer that changes between the check and the
connection (rebinding) cannot send a delivery inside the network.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

URL_LIMIT = 2000


class UrlRefused(ValueError):
    """A URL a webhook may not go to; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line


def allow_http() -> bool:
    return bool(getattr(settings, "PORTAL_WEBHOOKS_ALLOW_HTTP", False))


def allow_private() -> bool:
    return bool(getattr(settings, "PORTAL_WEBHOOKS_ALLOW_PRIVATE", False))


def parse(url: str) -> Target:
    """The URL's parts, if its form is allowed (no resolution here)."""
    if not isinstance(url, str) or not url:
        raise UrlRefused("Enter a URL.")
    if len(url) > URL_LIMIT:
        raise UrlRefused(f"The URL is longer than {URL_LIMIT} characters.")
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise UrlRefused("The URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UrlRefused(f"The URL is malformed: {e}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UrlRefused("The URL must start with https://.")
    if scheme == "http" and not allow_http():
        raise UrlRefused("The URL must use https://; plain http is not allowed.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("The URL may not carry a user name or password.")
    if parts.fragment:
        raise UrlRefused("The URL may not have a #fragment.")
    host = parts.hostname or ""
    if not host:
        raise UrlRefused("The URL has no host.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def refusal(address: str) -> str | None:
    """Why an address may not receive webhooks, or ``None`` if it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for name, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return f"{address} is a {name} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


def resolve(target: Target) -> list[str]:
    """Every address of the target's host, each checked; the list to connect to."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as e:
        raise UrlRefused(f"The host {target.host} does not resolve ({e}).") from None
    found = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in found:
            found.append(sockaddr[0])
    if not found:
        raise UrlRefused(f"The host {target.host} has no address.")
    if not allow_private():
        for address in found:
            reason = refusal(address)
            if reason:
                raise UrlRefused(
                    f"The host {target.host} resolves to {reason}: webhooks only go to "
                    "public addresses."
                )
    return found


def check(url: str) -> tuple[Target, list[str]]:
    """The URL's target and its checked addresses; ``UrlRefused`` with the reason."""
    target = parse(url)
    return target, resolve(target)
