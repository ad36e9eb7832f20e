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
# One range of the "bytes" unit (compared case-insensitively); ASCII digits only (\d
# would take other scripts' digits too). A comma (several ranges) does not match.
_RANGE = re.compile(r"bytes=[ \t]*(?P<first>[0-9]*)-(?P<last>[0-9]*)[ \t]*", re.IGNORECASE)


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
    """What to send for a ``Range`` header, read as RFC 9110 section 14 says.

    ``(start, end)`` inclusive for one satisfiable ``bytes`` range; ``"unsatisfiable"``
    (416) for one well-formed range that starts at or past the end, or a zero-length
    suffix; ``None`` (the whole file, 200) for a header that may be ignored: another unit,
    a malformed or invalid range (last before first), or several ranges (which the
    portal does not serve as multipart).

    Positions are compared as digit strings before any conversion: a position of
    thousands of digits is merely "past the end", never an integer to build.
    """
    match = _RANGE.fullmatch(header.strip(" \t"))
    if not match or not (match["first"] or match["last"]):
        return None
    first, last = match["first"], match["last"]
    if first:
        if last and _magnitude(last) < _magnitude(first):
            return None  # invalid (RFC 9110 14.1.1): ignored
        if size == 0 or _magnitude(first) >= _magnitude(str(size)):
            return "unsatisfiable"
        start = _small(first)
        end = size - 1 if not last or _magnitude(last) >= _magnitude(str(size)) else _small(last)
        return start, end
    # The last N bytes; N = 0 is unsatisfiable, N beyond the size means the whole file.
    if _magnitude(last) == _magnitude("0"):
        return "unsatisfiable"
    if size == 0:
        return None  # nothing to cut: the (empty) whole file
    if _magnitude(last) >= _magnitude(str(size)):
        return 0, size - 1
    return size - _small(last), size - 1


def _small(digits: str) -> int:
    """A position already known to be below the size (so short once its zeros are gone)."""
    return int(_magnitude(digits)[1])


def _magnitude(digits: str) -> tuple[int, str]:
    """A key that orders ASCII digit strings by their value, leading zeros and all."""
    significant = digits.lstrip("0") or "0"
    return len(significant), significant


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
