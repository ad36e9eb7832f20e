"""Clarius' own words for a refusal, for pages and command output."""

from __future__ import annotations

import json

from integrations.clarius.api.errors import ClariusError


def vendor_reason(error: ClariusError) -> str:
    """What Clarius said (DRF's ``detail`` or field errors), else the error itself.

    The excerpt is already scrubbed of credentials by the client.
    """
    try:
        document = json.loads(error.body_excerpt)
    except (TypeError, ValueError):
        return error.body_excerpt or error.message
    if isinstance(document, dict):
        if isinstance(document.get("detail"), str):
            return document["detail"]
        return "; ".join(f"{field}: {_flatten(problem)}" for field, problem in document.items())
    return _flatten(document)


def _flatten(problem) -> str:
    if isinstance(problem, list):
        return " ".join(_flatten(item) for item in problem if item)
    if isinstance(problem, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in problem.items())
    return str(problem)
