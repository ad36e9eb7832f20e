"""Streaming a media response to a file: bounded memory, size cap, checksum, atomic move.

:func:`store_stream` streams into a store through the writer it is given (the portal's
storage, local files or S3, all or nothing: ``portal.storage.writer``), naming the
stored file from the first bytes;
:func:`save_stream` writes to a local path (benchmarks and tools).

:func:`save_stream` writes a response body chunk by chunk (64 KiB) to a temporary file
in the destination directory, hashing (SHA-256) and counting as it goes, then fsyncs and
``os.replace``-s it into place; the directory is fsynced too so the rename survives a
crash. On any error (``MediaTooLarge``, a dropped connection, a full disk) the temporary
file is removed and nothing is left at the destination. Memory use is one chunk plus
the first bytes kept for sniffing, whatever the file size.

The declared content type (the header) and the sniffed one (the first bytes) are both
returned: a caller expecting an image can refuse an HTML error page served as
``image/jpeg``, or a video sent as ``application/octet-stream`` can still be recognised.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import requests

from integrations.clarius.api.errors import MediaTooLarge, TransportError, redact_url

CHUNK_SIZE = 64 * 1024
DEFAULT_MAX_BYTES = 1024 * 1024 * 1024  # 1 GiB: far above any capture, well below a disk
SNIFF_BYTES = 132  # DICOM's magic is at offset 128


@dataclass(frozen=True)
class DownloadedMedia:
    """A media file safely in place: ``path`` exists, was fsynced, and has ``size`` bytes."""

    path: Path
    size: int
    sha256: str
    content_type: str | None  # from the Content-Type header, without parameters
    sniffed_type: str | None  # from the first bytes; None if not a recognised format


def sniff_media_type(head: bytes) -> str | None:
    """The media type the first bytes of a file announce, or None if not recognised.

    Recognises JPEG, PNG, GIF, MP4/QuickTime (``ftyp``), WebM/Matroska, DICOM (Part 10,
    ``DICM`` after the 128-byte preamble) and ZIP (DICOM exports may be archives).
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "application/dicom"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    return None


def declared_content_type(header: str | None) -> str | None:
    """``"image/jpeg; charset=binary"`` → ``"image/jpeg"``; None when absent."""
    if not header:
        return None
    media_type = header.split(";", 1)[0].strip().lower()
    return media_type or None


def content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


def save_stream(
    response: requests.Response,
    destination: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    chunk_size: int = CHUNK_SIZE,
) -> DownloadedMedia:
    """Write ``response``'s body to ``destination`` atomically; always closes ``response``.

    Raises ``MediaTooLarge`` (before reading, when Content-Length is over ``max_bytes``;
    or as soon as the bytes read exceed it) and ``TransportError`` when the stream breaks;
    in every failure no file is left behind.
    """
    destination = Path(destination)
    url = redact_url(response.url or "")
    try:
        announced = content_length(response)
        if announced is not None and announced > max_bytes:
            raise MediaTooLarge(
                f"GET {url}: Content-Length {announced} is over the {max_bytes}-byte cap",
                status=response.status_code,
            )
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
        )
        try:
            with os.fdopen(fd, "wb") as out:
                size, digest, head = _copy(response, out, url, max_bytes, chunk_size)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, destination)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        _fsync_directory(destination.parent)
    finally:
        response.close()
    return DownloadedMedia(
        path=destination,
        size=size,
        sha256=digest,
        content_type=declared_content_type(response.headers.get("Content-Type")),
        sniffed_type=sniff_media_type(head),
    )


@dataclass(frozen=True)
class StoredMedia:
    """A media body streamed into the portal's storage (``portal.storage``).

    ``name`` is the stored file's name, or ``None`` when ``name_for`` refused the body
    from its first bytes (nothing was stored). ``copy`` is a local copy of the bytes
    when one was asked for (for decoders that need a path), else ``None``."""

    name: str | None
    size: int
    sha256: str
    content_type: str | None
    sniffed_type: str | None
    copy: Path | None = None


def store_stream(
    response: requests.Response,
    name_for: Callable[[str | None, str | None], str | None],
    *,
    open_writer: Callable[[str], AbstractContextManager],
    max_bytes: int = DEFAULT_MAX_BYTES,
    chunk_size: int = CHUNK_SIZE,
    copy_to: Path | None = None,
) -> StoredMedia:
    """Stream ``response``'s body into a store; always closes ``response``.

    The first bytes are read before anything is written: ``name_for(sniffed_type,
    declared_type)`` names the stored file from them (its suffix follows the kind), or
    returns ``None`` to refuse the body, which is then not downloaded further. The rest
    streams through ``open_writer(name)``: an all-or-nothing writer (``write``, then
    ``size`` and ``sha256``) that commits only when its block ends cleanly, as the
    portal's ``portal.storage.writer`` does (a multipart upload on S3, a ``.part`` file
    locally). So on ``MediaTooLarge``, ``TransportError`` or any other error nothing
    appears at the name. With ``copy_to`` the bytes are also written to that local file
    (removed again on failure).
    """
    url = redact_url(response.url or "")
    declared = declared_content_type(response.headers.get("Content-Type"))
    copy = None
    try:
        announced = content_length(response)
        if announced is not None and announced > max_bytes:
            raise MediaTooLarge(
                f"GET {url}: Content-Length {announced} is over the {max_bytes}-byte cap",
                status=response.status_code,
            )
        counter = _Counter(response, url, max_bytes, chunk_size)
        head_chunks = []
        head = b""
        for chunk in counter:
            head_chunks.append(chunk)
            head += chunk[: SNIFF_BYTES - len(head)]
            if len(head) >= SNIFF_BYTES:
                break
        sniffed = sniff_media_type(head)
        name = name_for(sniffed, declared)
        if name is None:
            return StoredMedia(None, counter.size, "", declared, sniffed)
        try:
            copy = copy_to.open("wb") if copy_to is not None else None
            with open_writer(name) as w:
                for chunk in itertools.chain(head_chunks, counter):
                    w.write(chunk)
                    if copy is not None:
                        copy.write(chunk)
                counter.check_complete()
            if copy is not None:
                copy.close()
        except BaseException:
            if copy is not None:
                copy.close()
                copy_to.unlink(missing_ok=True)
            raise
    finally:
        response.close()
    return StoredMedia(name, w.size, w.sha256, declared, sniffed, copy_to)


class _Counter:
    """The body's chunks, counted against the cap, with transport errors mapped."""

    def __init__(self, response, url, max_bytes, chunk_size):
        self.response, self.url, self.max_bytes = response, url, max_bytes
        self.chunks = response.iter_content(chunk_size)
        self.size = 0

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        try:
            chunk = next(self.chunks)
        except StopIteration:
            raise
        except requests.exceptions.RequestException as e:
            timed_out = "timed out" in str(e).lower()
            reason = "timed out" if timed_out else "broke off"
            raise TransportError(
                f"GET {self.url}: download {reason} after {self.size} bytes ({type(e).__name__})",
                timeout=timed_out,
            ) from None
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise MediaTooLarge(
                f"GET {self.url}: more than the {self.max_bytes}-byte cap",
                status=self.response.status_code,
            )
        return chunk

    def check_complete(self) -> None:
        announced = content_length(self.response)
        if announced is not None and self.size < announced:
            # urllib3 normally raises on a short body; this catches a proxy that does not.
            raise TransportError(f"GET {self.url}: body ended at {self.size} of {announced} bytes")


def _copy(
    response: requests.Response, out: BinaryIO, url: str, max_bytes: int, chunk_size: int
) -> tuple[int, str, bytes]:
    """Copy the body to ``out``; returns (size, sha256 hex, the first SNIFF_BYTES bytes).
    The cap, the transport errors and the short-body check are ``_Counter``'s, as for
    ``store_stream``."""
    sha256 = hashlib.sha256()
    head = b""
    counter = _Counter(response, url, max_bytes, chunk_size)
    for chunk in counter:
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        sha256.update(chunk)
        out.write(chunk)
    counter.check_complete()
    return counter.size, sha256.hexdigest(), head


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
