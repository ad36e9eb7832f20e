"""Secrets at rest: the Service API key and research tokens, encrypted with Fernet.

The encryption keys come from ``PORTAL_ENCRYPTION_KEY`` (settings:
``PORTAL_ENCRYPTION_KEYS``): one or more Fernet keys, comma-separated. The first one
encrypts, every one of them decrypts (``MultiFernet``), so a key is rotated by putting
the new one first, running ``manage.py reencrypt_secrets``, then dropping the old one.

Development (``DJANGO_DEBUG=1``) derives a key from ``SECRET_KEY`` when none is set.
Production starts without one (a portal that never stores a secret does not need it)
but refuses, with ``ImproperlyConfigured`` naming the variable, the moment a secret must
be encrypted or decrypted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SETTING = "PORTAL_ENCRYPTION_KEY"


class SecretUnreadable(ImproperlyConfigured):
    """A stored secret that none of the configured keys decrypts (a key was dropped)."""


def parse_encryption_keys(value: str | None, *, debug: bool, secret_key: str) -> list[str]:
    """The Fernet keys of ``PORTAL_ENCRYPTION_KEY``, checked at start-up.

    A malformed key stops the process with a message naming the variable (never the
    key). Unset: a key derived from ``SECRET_KEY`` in development, none in production.
    """
    keys = [item.strip() for item in (value or "").split(",") if item.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            ok = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise ImproperlyConfigured(
                f"{SETTING}: key #{position} is not a Fernet key (32 url-safe base64 bytes; "
                "make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            )
    if not keys and debug:
        # Stable across restarts, so a development database stays readable.
        digest = hashlib.sha256(b"portal-encryption-key:" + secret_key.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return keys


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    keys = tuple(getattr(settings, "PORTAL_ENCRYPTION_KEYS", ()))
    if not keys:
        raise ImproperlyConfigured(
            f"{SETTING}: required to store or read an encrypted secret (the Clarius API key, "
            "research tokens). Set it to a Fernet key; see integrations/clarius/README.md."
        )
    return _fernet(keys)


def is_configured() -> bool:
    return bool(getattr(settings, "PORTAL_ENCRYPTION_KEYS", ()))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode("ascii")).decode()
    except InvalidToken:
        raise SecretUnreadable(
            f"{SETTING}: no configured key decrypts a stored secret; was the key that "
            "encrypted it removed? Put it back (after the new one) and run "
            "`manage.py reencrypt_secrets`."
        ) from None


def reencrypt(ciphertext: str) -> str:
    """The same secret encrypted with the first key (``MultiFernet.rotate``)."""
    try:
        return fernet().rotate(ciphertext.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise SecretUnreadable(f"{SETTING}: no configured key decrypts a stored secret") from None


def fingerprint(secret: str) -> str:
    """A stable one-way digest, to recognise a secret seen before without keeping it.

    Plain SHA-256 is enough: API keys and tokens are long random strings, not passwords.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


# Every encrypted column, registered by the app that owns it (in ``AppConfig.ready()``),
# so that rotating the key (``manage.py reencrypt_secrets``) can never miss one.
_columns: list[tuple[type, str]] = []


def register_column(model: type, field: str) -> None:
    if (model, field) not in _columns:
        _columns.append((model, field))


def registered_columns() -> list[tuple[type, str]]:
    return list(_columns)


def reencrypt_all() -> int:
    """Every registered secret encrypted with the first key, all or nothing; how many.

    Raises ``SecretUnreadable`` (and changes nothing) if a secret cannot be read.
    """
    from django.db import transaction

    total = 0
    with transaction.atomic():  # never half on the old key
        for model, field in _columns:
            rows = model._default_manager.exclude(**{field: ""}).select_for_update()
            for pk, ciphertext in rows.values_list("pk", field):
                model._default_manager.filter(pk=pk).update(**{field: reencrypt(ciphertext)})
                total += 1
    return total
