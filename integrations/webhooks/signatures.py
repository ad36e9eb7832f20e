"""Signing secrets and Standard Webhooks signatures.

A secret is ``whsec_`` + base64 of 32 random bytes, shown once and kept encrypted
(``portal.encryption``). A delivery is signed over ``{webhook-id}.{timestamp}.{body}``
with HMAC-SHA256 keyed by the secret's bytes: ``v1,<base64>``; during a rotation's
overlap with the previous secret too, the signatures separated by a space.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as random_secrets

from portal.encryption import decrypt, encrypt

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(random_secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def key_of(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key_of(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: list[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(secret, webhook_id, timestamp, body) for secret in secrets)


def seal(secret: str) -> str:
    return encrypt(secret)


def unseal(ciphertext: str) -> str:
    return decrypt(ciphertext)
