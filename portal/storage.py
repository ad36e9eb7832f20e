"""Where the portal keeps its files: the one place that reads and writes them.

Exam media, thumbnails and posters, report PDFs, research exports and DICOM objects are
all *stored files* named by a relative name (``<institution>/<exam uuid>/...``), the
value their rows keep in ``file``. They go through Django's storage API
(``STORAGES["default"]``): local files under ``PORTAL_MEDIA_ROOT`` in the embedded
setup, or an S3-compatible bucket when ``PORTAL_STORAGE_URL`` is set. Nothing else in
the portal opens a media path itself.

Writes are all-or-nothing: ``writer`` streams into a staged copy (a ``.part`` file, or
an S3 multipart upload that is invisible until completed) and only commits it when the
caller's block ends without an error and the checksum matches. A worker killed half-way
leaves no object at the final name, only a staged part that the next attempt or
``sweep_partials`` removes.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import mimetypes
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

CHUNK = 1024 * 1024

logger = logging.getLogger(__name__)


class StorageError(Exception):
    """A stored file could not be written, read or verified."""


class ChecksumMismatch(StorageError):
    """What was written is not what was expected; nothing was committed."""


def backend():
    """Django's default storage: where every stored file lives."""
    return storages["default"]


def is_local() -> bool:
    """True when stored files are plain files on this machine's disk."""
    return isinstance(backend(), FileSystemStorage)


def check_name(name: str) -> str:
    """A stored file's name, refused when it could escape its institution's space."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or "\x00" in name:
        raise ValueError(f"not a stored file name: {name!r}")
    return name


def local_root() -> Path:
    return Path(settings.PORTAL_MEDIA_ROOT)


def local_file(name: str) -> Path:
    """The path of a stored file on local storage (refusing anything outside the root)."""
    root = local_root().resolve()
    path = (root / check_name(name)).resolve()
    if root not in path.parents:
        raise ValueError(f"stored file name escapes the media root: {name!r}")
    return path


# Reading ------------------------------------------------------------------------------


# Local storage is read at PORTAL_MEDIA_ROOT directly (the root writes go to), so one
# setting says where files are even when MEDIA_ROOT was left elsewhere.


def open_read(name: str):
    """A binary file object for a stored file (seekable on local storage); close it."""
    if is_local():
        return local_file(name).open("rb")
    return backend().open(check_name(name), "rb")


def read_bytes(name: str) -> bytes:
    with open_read(name) as f:
        return f.read()


def exists(name: str) -> bool:
    if not name:
        return False
    if is_local():
        return local_file(name).is_file()
    return backend().exists(check_name(name))


def size(name: str) -> int:
    if is_local():
        return local_file(name).stat().st_size
    return backend().size(check_name(name))


@contextmanager
def local_path(name: str) -> Iterator[Path]:
    """A path on this machine holding the stored file, for tools that need one (a video
    decoder, a zip reader). Local storage gives the file itself; remote storage a
    private temporary copy, removed when the block ends."""
    if is_local():
        yield local_file(name)
        return
    suffix = PurePosixPath(name).suffix
    with tempfile.TemporaryDirectory(prefix="portal-", dir=scratch_dir()) as folder:
        copy = Path(folder) / f"copy{suffix}"
        with open_read(name) as source, copy.open("wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
        yield copy


def scratch_dir() -> str | None:
    """This node's own scratch folder (``PORTAL_SCRATCH_DIR``), or the system's."""
    folder = getattr(settings, "PORTAL_SCRATCH_DIR", "") or None
    if folder:
        os.makedirs(folder, exist_ok=True)
    return folder


# Writing ------------------------------------------------------------------------------


class LocalWriter:
    """A stored file being written on local storage: a ``.part`` file beside its final
    name, fsynced and renamed into place on commit."""

    def __init__(self, name: str, expected_sha256: str | None = None):
        self.name = check_name(name)
        self.expected_sha256 = expected_sha256
        self.final = local_file(name)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(
            dir=self.final.parent, prefix=f".{self.final.name}.", suffix=".part"
        )
        self.part = Path(part)
        self.out = os.fdopen(fd, "wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.out.write(chunk)
        self.hash.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self.hash.hexdigest()

    def commit(self) -> None:
        if self.expected_sha256 and self.sha256 != self.expected_sha256:
            self.abort()
            raise ChecksumMismatch(
                f"{self.name}: wrote SHA-256 {self.sha256}, expected {self.expected_sha256}"
            )
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()
        os.replace(self.part, self.final)
        _fsync_directory(self.final.parent)

    def abort(self) -> None:
        if not self.out.closed:
            self.out.close()
        self.part.unlink(missing_ok=True)


@contextmanager
def writer(name: str, *, expected_sha256: str | None = None):
    """Write a stored file: ``with writer(name) as w: w.write(chunk)``; committed when the
    block ends without an error (and, with ``expected_sha256``, only if it matches);
    otherwise nothing appears at ``name``. ``w.size`` and ``w.sha256`` tell what was
    written."""
    w = _open_writer(name, expected_sha256)
    try:
        yield w
    except BaseException:
        w.abort()
        raise
    w.commit()


# An S3 multipart upload's part: at most one is held in memory per writer. S3 wants
# parts of at least 5 MiB (except the last) and at most 10,000 of them: 8 MiB parts
# reach 78 GiB, far beyond any capture.
PART = 8 * 1024 * 1024


class S3Writer:
    """A stored file being written to S3: a multipart upload, invisible until completed,
    its SHA-256 computed as it streams and checked before completion. A file smaller
    than one part is a single ``put_object`` at commit."""

    def __init__(self, name: str, expected_sha256: str | None = None):
        self.name = check_name(name)
        self.expected_sha256 = expected_sha256
        self.storage = backend()
        self.client = self.storage.connection.meta.client
        self.bucket = self.storage.bucket_name
        self.key = s3_key(name)
        self.content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict] = []
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.size += len(chunk)
        view = memoryview(chunk)
        while view:
            room = PART - len(self.buffer)
            self.buffer += view[:room]
            view = view[room:]
            if len(self.buffer) == PART:
                # The buffer is handed over whole and a fresh one started: one part held.
                data, self.buffer = bytes(self.buffer), bytearray()
                self._upload_part(data)

    @property
    def sha256(self) -> str:
        return self.hash.hexdigest()

    def _upload_part(self, data: bytes) -> None:
        if self.upload_id is None:
            started = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type
            )
            self.upload_id = started["UploadId"]
        number = len(self.parts) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def commit(self) -> None:
        if self.expected_sha256 and self.sha256 != self.expected_sha256:
            self.abort()
            raise ChecksumMismatch(
                f"{self.name}: wrote SHA-256 {self.sha256}, expected {self.expected_sha256}"
            )
        try:
            if self.upload_id is None:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=bytes(self.buffer),
                    ContentType=self.content_type,
                )
            else:
                if self.buffer:
                    self._upload_part(bytes(self.buffer))
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    MultipartUpload={"Parts": self.parts},
                )
        except BaseException:
            self.abort()
            raise
        self.buffer = bytearray()

    def abort(self) -> None:
        self.buffer = bytearray()
        if self.upload_id is not None:
            upload_id, self.upload_id = self.upload_id, None
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=upload_id
                )
            except Exception:  # noqa: BLE001 - sweep_partials removes what this leaves
                logger.warning("could not abort the upload of %s; the sweep will", self.name)


def s3_key(name: str) -> str:
    """The object key of a stored file in the bucket (under the URL's prefix, if any)."""
    from storages.utils import clean_name

    return backend()._normalize_name(clean_name(check_name(name)))


def _open_writer(name: str, expected_sha256: str | None):
    if is_local():
        return LocalWriter(name, expected_sha256)
    return S3Writer(name, expected_sha256)


def save_file(name: str, source: Path, *, expected_sha256: str | None = None) -> str:
    """Store the local file ``source`` as ``name``; its SHA-256 is returned."""
    with writer(name, expected_sha256=expected_sha256) as w, Path(source).open("rb") as f:
        while chunk := f.read(CHUNK):
            w.write(chunk)
    return w.sha256


def save_bytes(name: str, data: bytes) -> str:
    with writer(name) as w:
        w.write(data)
    return w.sha256


def delete(name: str) -> None:
    """Remove a stored file; a missing one is not an error."""
    if not name:
        return
    if is_local():
        local_file(name).unlink(missing_ok=True)
    else:
        backend().delete(check_name(name))


def abort_partials(prefix: str) -> int:
    """Remove the staged writes (``.part`` files, S3 multipart uploads) of stored files
    whose names start with ``prefix`` (e.g. ``<folder>/003.``): what a killed worker left
    for a row the caller now holds. Returns how many were removed."""
    directory, _, start = check_name(prefix).rpartition("/")
    if is_local():
        folder = local_file(directory) if directory else local_root()
        removed = 0
        for part in folder.glob(f".{glob.escape(start)}*.part"):
            part.unlink(missing_ok=True)
            removed += 1
        return removed
    storage = backend()
    client = storage.connection.meta.client
    answer = client.list_multipart_uploads(Bucket=storage.bucket_name, Prefix=s3_key(prefix))
    for upload in answer.get("Uploads", []):
        client.abort_multipart_upload(
            Bucket=storage.bucket_name, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    return len(answer.get("Uploads", []))


def discard(prefix: str) -> None:
    """Remove every stored file whose name starts with ``prefix`` and their staged
    writes: what an unfinished attempt left for one row (``<folder>/003.``)."""
    abort_partials(prefix)
    directory, _, start = check_name(prefix).rpartition("/")
    if is_local():
        folder = local_file(directory) if directory else local_root()
        for path in folder.glob(f"{glob.escape(start)}*"):
            if path.is_file():
                path.unlink(missing_ok=True)
        return
    storage = backend()
    client = storage.connection.meta.client
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=storage.bucket_name, Prefix=s3_key(prefix)
    )
    for page in pages:
        for item in page.get("Contents", []):
            client.delete_object(Bucket=storage.bucket_name, Key=item["Key"])


def presigned_url(
    name: str,
    *,
    filename: str | None = None,
    disposition: str = "inline",
    content_type: str | None = None,
) -> str | None:
    """A URL the store itself serves ``name`` from, valid for
    ``PORTAL_STORAGE_URL_SECONDS``; ``None`` when the storage serves no URLs (local).
    The store answers with ``Cache-Control: private, no-store`` as the portal would, with
    ``content_type`` (the type the portal checked, not whatever the object was stored
    with) and, with ``filename``, that name in Content-Disposition. The store cannot be
    told to send ``nosniff``; the declared type and the store's own origin stand in."""
    if is_local():
        return None
    storage = backend()
    params = {
        "Bucket": storage.bucket_name,
        "Key": s3_key(name),
        "ResponseCacheControl": "private, no-store",
    }
    if content_type:
        params["ResponseContentType"] = content_type
    if filename:
        params["ResponseContentDisposition"] = content_disposition(filename, disposition)
    return storage.connection.meta.client.generate_presigned_url(
        "get_object", Params=params, ExpiresIn=settings.PORTAL_STORAGE_URL_SECONDS
    )


def content_disposition(filename: str, disposition: str = "inline") -> str:
    """``inline; filename="..."; filename*=UTF-8''...`` with a plain-ASCII fallback."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


# Sweeping -----------------------------------------------------------------------------

# A staged write older than this belongs to a worker that died: no download or upload
# of the portal's takes an hour.
PARTIAL_AGE = timedelta(hours=1)
SWEEP_MINUTES = 30


def sweep_partials() -> int:
    """Remove what dead writers left behind: S3 multipart uploads, local ``.part`` files
    and this node's scratch copies older than an hour. Returns how many were removed."""
    removed = 0
    cutoff = time.time() - PARTIAL_AGE.total_seconds()
    if is_local():
        root = local_root()
        if root.is_dir():
            for part in root.rglob(".*.part"):
                removed += _unlink_if_older(part, cutoff)
    else:
        removed += _abort_old_uploads(cutoff)
    folder = getattr(settings, "PORTAL_SCRATCH_DIR", "")
    if folder and os.path.isdir(folder):
        for entry in Path(folder).glob("portal-*"):
            removed += _unlink_if_older(entry, cutoff)
    if removed:
        logger.info("storage sweep: removed %d abandoned partial writes", removed)
    return removed


def _unlink_if_older(path: Path, cutoff: float) -> int:
    try:
        if path.stat().st_mtime >= cutoff:
            return 0
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        return 0
    return 1


def _abort_old_uploads(cutoff: float) -> int:
    storage = backend()
    client = storage.connection.meta.client
    prefix = storage.location.strip("/")
    removed = 0
    args = {"Bucket": storage.bucket_name}
    if prefix:
        args["Prefix"] = prefix + "/"
    while True:
        page = client.list_multipart_uploads(**args)
        for upload in page.get("Uploads", []):
            if upload["Initiated"].timestamp() < cutoff:
                client.abort_multipart_upload(
                    Bucket=storage.bucket_name, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                removed += 1
        if not page.get("IsTruncated"):
            return removed
        args["KeyMarker"] = page.get("NextKeyMarker", "")
        args["UploadIdMarker"] = page.get("NextUploadIdMarker", "")


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
