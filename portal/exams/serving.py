"""Sending private media to an authorised browser: the one place that does it.

The view decides who may see a file and audits it; this module only sends it: streamed
from the storage by Django (with HTTP ranges, so a clip can be seeked; on S3 each range
is a ranged GET, never the whole object), redirected to a short-lived presigned URL of
the store when ``PORTAL_STORAGE_REDIRECT`` is on and the storage gives one, or (local
storage only) handed to the front server with X-Accel-Redirect / X-Sendfile.
"""

import re

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, StreamingHttpResponse

from portal import storage

CHUNK = 64 * 1024
# One range of the "bytes" unit (compared case-insensitively); ASCII digits only (\d
# would take other scripts' digits too). A comma (several ranges) does not match.
_RANGE = re.compile(r"bytes=[ \t]*(?P<first>[0-9]*)-(?P<last>[0-9]*)[ \t]*", re.IGNORECASE)


def media_response(stored, request=None, *, filename: str | None = None):
    """The response for ``stored`` (anything with ``file`` and ``content_type``);
    ``filename``: sent as a download of that name."""
    name = stored.file
    url = None
    if getattr(settings, "PORTAL_STORAGE_REDIRECT", False):
        url = storage.presigned_url(
            name, filename=filename, disposition="attachment", content_type=stored.content_type
        )
    local = storage.is_local()
    accel = settings.PORTAL_MEDIA_ACCEL_REDIRECT
    if url:
        # The store serves the bytes (and their ranges); the URL expires in a minute.
        response = HttpResponseRedirect(url)
    elif local and accel:
        response = HttpResponse(content_type=stored.content_type)
        response["X-Accel-Redirect"] = f"{accel.rstrip('/')}/{storage.check_name(name)}"
    elif local and settings.PORTAL_MEDIA_SENDFILE:
        response = HttpResponse(content_type=stored.content_type)
        response["X-Sendfile"] = str(storage.local_file(name))
    else:
        response = _streamed(name, stored.content_type, request)
    if filename and not url:
        response["Content-Disposition"] = storage.content_disposition(filename, "attachment")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _streamed(name, content_type, request):
    size = storage.size(name)
    wanted = request.headers.get("Range", "") if request is not None else ""
    span = parse_range(wanted, size) if wanted else None
    if span == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if span is None:
        if storage.is_local():
            # FileResponse closes the file when the response is done.
            response = FileResponse(storage.open_read(name), content_type=content_type)
        else:
            response = StreamingHttpResponse(_read(name, 0, size - 1), content_type=content_type)
            response["Content-Length"] = str(size)
    else:
        start, end = span
        response = StreamingHttpResponse(
            _read(name, start, end), status=206, content_type=content_type
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


def _read(name, start, end):
    """The bytes ``start``..``end`` (inclusive) of a stored file, in chunks."""
    if end < start:
        return
    ranged = _ranged_get(name, start, end)
    if ranged is not None:
        yield from ranged
        return
    with storage.open_read(name) as handle:
        handle.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def _ranged_get(name, start, end):
    """On S3, the range as one ranged GET of the object (``None`` elsewhere): opening
    the storage's file object would fetch the whole clip for every seek."""
    if storage.is_local():
        return None
    backend = storage.backend()
    body = backend.bucket.Object(storage.s3_key(name)).get(Range=f"bytes={start}-{end}")["Body"]
    return _closing_chunks(body)


def _closing_chunks(body):
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()
