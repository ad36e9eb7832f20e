"""Sending private media to an authorised browser: the one place that does it.

The view decides who may see a file; this module only sends it: streamed by Django
(with HTTP ranges, so a clip can be seeked), or handed to the front server with
X-Accel-Redirect / X-Sendfile when the deployment configures one.
"""

import re

from django.conf import settings
from django.http import FileResponse, HttpResponse, StreamingHttpResponse

from portal.exams import media

CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def media_response(stored, request=None):
    """The response for ``stored`` (anything with ``file`` and ``content_type``)."""
    path = media.absolute(stored.file)
    accel = settings.PORTAL_MEDIA_ACCEL_REDIRECT
    if accel:
        response = HttpResponse(content_type=stored.content_type)
        response["X-Accel-Redirect"] = f"{accel.rstrip('/')}/{stored.file}"
    elif settings.PORTAL_MEDIA_SENDFILE:
        response = HttpResponse(content_type=stored.content_type)
        response["X-Sendfile"] = str(path)
    else:
        response = _streamed(path, stored.content_type, request)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _streamed(path, content_type, request):
    size = path.stat().st_size
    wanted = request.headers.get("Range", "") if request is not None else ""
    span = parse_range(wanted, size) if wanted else None
    if span == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if span is None:
        # FileResponse closes the file when the response is done.
        response = FileResponse(open(path, "rb"), content_type=content_type)  # noqa: SIM115
    else:
        start, end = span
        response = StreamingHttpResponse(
            _read(path, start, end), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    return response


def parse_range(header: str, size: int):
    """``(start, end)`` inclusive for one ``bytes=`` range; ``None`` to send everything
    (several ranges, or a header we do not understand); ``"unsatisfiable"`` past the end."""
    match = _RANGE.match(header.strip())
    if not match or not (match[1] or match[2]):
        return None
    if match[1]:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
        if match[2] and int(match[2]) < start:
            return None
    else:  # the last N bytes
        start, end = max(size - int(match[2]), 0), size - 1
    if start >= size or size == 0:
        return "unsatisfiable"
    return start, end


def _read(path, start, end):
    with open(path, "rb") as handle:
        handle.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
