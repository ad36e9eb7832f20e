"""Keep secrets out of the logs.

The webhook URL carries the installation's secret and the token transfer URL a
customer's token; both end up in access logs and in Django's request warnings. An
institution API key (``cpk_<prefix>_<secret>``) that reaches a log line, wherever it
came from, keeps its public prefix and loses its secret.
"""

import logging
import re

_SECRET_SEGMENT = re.compile(r"(/clarius/(?:notifications|connect)/)[^/\s?\"']+")


_API_KEY = re.compile(r"(cpk_[A-Za-z0-9]{8}_)[A-Za-z0-9_\-]+", re.IGNORECASE)


# Partner webhook signing secrets (whsec_ + base64), wherever they appear.
_WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=_-]+")


# A query string's values: where patient searches (``?q=<name>``) and the signatures of
# presigned links live. A path or URL keeps its parameter names, never their values.
_QUERY = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*://[^\s/?\"'<>]*)?/[^\s?\"'<>]*)\?([^\s\"'<>]*)")
_QUERY_VALUE = re.compile(r"=[^&;#]*")


def mask_query(query: str) -> str:
    """``q=Jane+Doe&page=2`` → ``q=…&page=…``."""
    return _QUERY_VALUE.sub("=…", query)


def without_queries(text: str) -> str:
    """Every ``/path?query`` and URL in ``text`` with its query's values masked."""
    return _QUERY.sub(lambda m: f"{m[1]}?{mask_query(m[2])}", text)


# Secrets the portal is configured with, wherever their values turn up (an exception
# quoting a header, a URL with a password): replaced whole.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "CLARIUS_API_KEY",
    "PORTAL_METRICS_TOKEN",
    "PORTAL_API_KEY_HASH_KEY",
    "EMAIL_HOST_PASSWORD",
)


def configured_secrets() -> list[str]:
    try:
        from django.conf import settings

        values = [getattr(settings, name, "") for name in SECRET_SETTINGS]
        values.append(settings.DATABASES.get("default", {}).get("PASSWORD", ""))
    except Exception:  # noqa: BLE001 - before Django is configured there are none
        return []
    # Short values would mask ordinary words; real secrets are long.
    return [v for v in values if isinstance(v, str) and len(v) >= 8]


def mask(text: str) -> str:
    for secret in configured_secrets():
        if secret in text:
            text = text.replace(secret, "***")
    text = _WEBHOOK_SECRET.sub("whsec_***", text)
    return _API_KEY.sub(r"\1***", _SECRET_SEGMENT.sub(r"\1***", text))


class MaskSecretsFilter(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


try:
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # gunicorn is only needed to serve in production
    _GunicornLogger = None

if _GunicornLogger is not None:

    class GunicornLogger(_GunicornLogger):
        """gunicorn's access log, with secret path segments masked."""

        def atoms(self, resp, req, environ, request_time):
            atoms = super().atoms(resp, req, environ, request_time)
            # The request line and the referer carry queries; "q" (and the environ's
            # "{query_string}e") is the query itself.
            for key, value in atoms.items():
                if isinstance(value, str) and (key == "q" or "query" in key.lower()):
                    atoms[key] = mask_query(value)
            return {
                k: mask(without_queries(v)) if isinstance(v, str) else v for k, v in atoms.items()
            }
