"""Reading settings from environment variables.

Every helper fails loudly with ``ImproperlyConfigured`` naming the variable, so a
typo in a deployment stops the process at start-up instead of running half-configured.
Each variable may also be given as ``<NAME>_FILE`` (a path whose content is the value),
which is how container secrets are usually mounted.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, environ=None) -> str | None:
    environ = os.environ if environ is None else environ
    file_name = environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as e:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_name!r}: {e}") from e
    return environ.get(name, default)


def env_bool(name: str, default: bool = False, environ=None) -> bool:
    value = env_str(name, None, environ)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}: expected a boolean (1/0, true/false, yes/no), got {value!r}"
    )


def env_int(name: str, default: int, environ=None, minimum: int | None = None) -> int:
    value = env_str(name, None, environ)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str] | None = None, environ=None) -> list[str]:
    value = env_str(name, None, environ)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_http_url(name: str, value: str, *, origin_only: bool = False) -> str:
    """Validate an http(s) URL; with ``origin_only`` return ``scheme://host[:port]``."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port  # raises ValueError on a malformed port
    except ValueError as e:
        raise ImproperlyConfigured(f"{name}: not a valid URL ({e}): {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{name}: expected an http:// or https:// URL, got {value!r}")
    if parts.username or parts.password:
        raise ImproperlyConfigured(f"{name}: must not contain credentials")
    if origin_only:
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ImproperlyConfigured(
                f"{name}: expected an origin like https://portal.example.com, got {value!r}"
            )
        netloc = parts.hostname + (f":{port}" if port else "")
        return f"{parts.scheme}://{netloc}"
    return value.strip()


_ORIGIN_RE = re.compile(
    r"^(?P<scheme>https?)://(?P<host>(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(:(?P<port>\d{1,5}))?/?$"
)


def parse_origins(name: str, value: str) -> list[str]:
    """Comma-separated ``scheme://host[:port]`` entries; a host may start with ``*.``."""
    origins = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        match = _ORIGIN_RE.match(item)
        if not match or (match["port"] and not 0 < int(match["port"]) < 65536):
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an origin of the form scheme://host[:port] "
                "(the host may start with '*.')"
            )
        origins.append(item.rstrip("/").lower())
    return origins


def parse_database_url(name: str, value: str, base_dir: Path) -> dict:
    """A Django DATABASES entry from a URL; only SQLite and PostgreSQL are supported."""
    value = value.strip()
    try:
        config = dj_database_url.parse(value)
    except (ValueError, KeyError) as e:
        raise ImproperlyConfigured(f"{name}: cannot parse {_mask_url(value)!r}: {e}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        db_name = config.get("NAME") or ""
        if not db_name or db_name == ":memory:":
            raise ImproperlyConfigured(
                f"{name}: an SQLite URL needs a file path, e.g. sqlite:///var/portal.sqlite3"
            )
        path = Path(db_name)
        if not path.is_absolute():
            path = base_dir / path
        return {"ENGINE": engine, "NAME": str(path)}
    if engine == "django.db.backends.postgresql":
        if not config.get("NAME"):
            raise ImproperlyConfigured(f"{name}: a PostgreSQL URL needs a database name")
        return {k: config[k] for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")}
    raise ImproperlyConfigured(
        f"{name}: only sqlite:/// and postgres:// URLs are supported, got {_mask_url(value)!r}"
    )


def parse_redis_url(name: str, value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise ImproperlyConfigured(
            f"{name}: expected redis://host:port/db, rediss://... or unix://..., "
            f"got {_mask_url(value)!r}"
        )
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ImproperlyConfigured(f"{name}: malformed port in {_mask_url(value)!r}") from None
    return value.strip()


def _mask_url(value: str) -> str:
    """The URL with any password replaced, safe for error messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value)


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_STORAGE_OPTIONS = {"endpoint", "region", "addressing"}


def parse_storage_url(name: str, value: str) -> dict:
    """``s3://bucket[/prefix]?endpoint=https://host:port&region=eu-west-1&addressing=path``
    as the options of django-storages' S3 backend. ``endpoint`` is left out for AWS
    itself; ``addressing`` is ``path`` (most self-hosted servers) or ``virtual``.
    Credentials never go in the URL (it is printed in errors): they come from
    ``PORTAL_STORAGE_ACCESS_KEY_ID`` and ``PORTAL_STORAGE_SECRET_ACCESS_KEY``."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme != "s3":
        raise ImproperlyConfigured(
            f"{name}: expected s3://bucket?endpoint=...&region=..., got {_mask_url(value)!r}"
        )
    if parts.username or parts.password or "@" in parts.netloc:
        raise ImproperlyConfigured(
            f"{name}: credentials do not belong in the URL; set "
            "PORTAL_STORAGE_ACCESS_KEY_ID and PORTAL_STORAGE_SECRET_ACCESS_KEY"
        )
    bucket = parts.netloc
    if not _BUCKET.match(bucket):
        raise ImproperlyConfigured(f"{name}: {bucket!r} is not a valid bucket name")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ImproperlyConfigured(f"{name}: malformed options in {value!r}") from None
    unknown = set(query) - _STORAGE_OPTIONS
    if unknown:
        raise ImproperlyConfigured(
            f"{name}: unknown option(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_STORAGE_OPTIONS))}"
        )
    options = {k: v[-1].strip() for k, v in query.items()}
    prefix = parts.path.strip("/")
    if ".." in prefix.split("/"):
        raise ImproperlyConfigured(f"{name}: the prefix may not contain '..'")
    config = {"bucket_name": bucket, "location": prefix, "signature_version": "s3v4"}
    endpoint = options.get("endpoint")
    if endpoint:
        config["endpoint_url"] = parse_http_url(f"{name} endpoint", endpoint, origin_only=True)
    config["region_name"] = options.get("region") or "us-east-1"
    addressing = options.get("addressing") or ("path" if endpoint else "virtual")
    if addressing not in ("path", "virtual"):
        raise ImproperlyConfigured(
            f"{name}: addressing must be 'path' or 'virtual', got {addressing!r}"
        )
    config["addressing_style"] = addressing
    return config


def storage_origins(config: dict) -> list[str]:
    """The origins presigned URLs of the S3 storage ``config`` point at (for the CSP)."""
    bucket = config["bucket_name"]
    endpoint = config.get("endpoint_url")
    if endpoint:
        if config["addressing_style"] == "path":
            return [endpoint]
        parts = urlsplit(endpoint)
        return [f"{parts.scheme}://{bucket}.{parts.netloc}"]
    region = config["region_name"]
    return [f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{region}.amazonaws.com"]
