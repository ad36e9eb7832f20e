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

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

CHUNK = 1024 * 1024


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


def open_read(name: str):
    """A binary file object for a stored file (seekable on local storage); close it."""
    return backend().open(check_name(name), "rb")


def read_bytes(name: str) -> bytes:
    with open_read(name) as f:
        return f.read()


def exists(name: str) -> bool:
    return bool(name) and backend().exists(check_name(name))


def size(name: str) -> int:
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


def _open_writer(name: str, expected_sha256: str | None):
    if is_local():
        return LocalWriter(name, expected_sha256)
    raise StorageError("this storage backend has no streaming writer")


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
    if name:
        backend().delete(check_name(name))


def presigned_url(name: str, *, filename: str | None = None) -> str | None:
    """A URL the store itself serves ``name`` from, valid for
    ``PORTAL_STORAGE_URL_SECONDS``; ``None`` when the storage serves no URLs (local)."""
    return None


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
