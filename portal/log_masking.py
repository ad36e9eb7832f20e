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


def mask(text: str) -> str:
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
            return {k: mask(v) if isinstance(v, str) else v for k, v in atoms.items()}
