"""Pre-signed media links, in the spirit of S3's query-string authentication.

A link is ``<media origin><path>?Expires=<unix time>&Signature=<hex HMAC-SHA256>`` over the
path and the expiry. The media server checks both; nothing else (no API key, no cookie)
grants access, exactly like a pre-signed cloud storage URL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlencode


class LinkSigner:
    def __init__(self, origin: str, secret: bytes | None = None) -> None:
        self.origin = origin.rstrip("/")
        self._secret = secret or secrets.token_bytes(32)

    def _signature(self, path: str, expires: int) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, path: str, ttl: float, *, now: float | None = None) -> str:
        """An absolute link to ``path`` valid for ``ttl`` seconds (negative: already expired)."""
        expires = int((time.time() if now is None else now) + ttl)
        query = urlencode({"Expires": expires, "Signature": self._signature(path, expires)})
        return f"{self.origin}{path}?{query}"

    def check(self, path: str, expires: str | None, signature: str | None) -> str | None:
        """``None`` when the link is valid, else the reason it is refused."""
        if not expires or not signature:
            return "Query-string authentication requires the Signature and Expires parameters"
        try:
            expires_at = int(expires)
        except ValueError:
            return "Invalid Expires parameter"
        if not hmac.compare_digest(self._signature(path, expires_at), signature):
            return "The request signature we calculated does not match the signature you provided"
        if expires_at < time.time():
            return "Request has expired"
        return None
