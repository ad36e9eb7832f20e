"""Downloading a Clarius media link into the portal's storage, for a claimed row.

The one sequence every download follows (a capture, a DICOM export, a raw-data file):

1. ``clear``: the staged writes a killed worker left for the row's files (``.part``
   files, S3 multipart uploads) are removed; the caller holds the row's claim now, so
   whatever is there for it is stale;
2. ``download``: the client streams the link straight into the store (size-capped,
   hashed as it goes); the first bytes decide the stored file's name (its suffix
   follows the kind) or refuse the body, and the file appears only complete
   (``portal.storage.writer``);
3. the caller checks what arrived, reading it through ``result.copy`` when it needs a
   path (the stored file itself on local storage, a scratch copy on S3, removed when
   the block ends), and records it, or deletes it with ``portal.storage.delete``.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from integrations.clarius.api.download import StoredMedia
from portal import storage
from portal.exams import media


def clear(folder: str, stem: str) -> None:
    """Remove the staged writes left for ``<folder>/<stem>.*`` by an earlier attempt."""
    storage.abort_partials(f"{folder}/{stem}.")


@contextmanager
def download(
    client,
    url: str,
    name_for: Callable[[str | None, str | None], str | None],
    *,
    local_copy: bool = False,
) -> Iterator[StoredMedia]:
    """Stream ``url`` into the store with ``client``, capped at ``MAX_CAPTURE_BYTES``;
    ``name_for(sniffed, declared)`` names the stored file or refuses it (``None``).
    With ``local_copy``, ``result.copy`` is a path on this machine holding the bytes,
    valid inside the block."""
    folder = None
    copy_to = None
    if local_copy and not storage.is_local():
        # Tee the download into this node's scratch folder: a decoder reads it there
        # instead of fetching the object back from the store.
        folder = Path(tempfile.mkdtemp(prefix="portal-", dir=storage.scratch_dir()))
        copy_to = folder / "download"
    try:
        result = client.store_media(
            url,
            name_for,
            open_writer=storage.writer,
            max_bytes=media.MAX_CAPTURE_BYTES,
            copy_to=copy_to,
        )
        if local_copy and result.name is not None:
            if copy_to is None:
                copy = storage.local_file(result.name)
            else:
                # Some decoders go by the suffix.
                copy = copy_to.rename(copy_to.with_suffix(PurePosixPath(result.name).suffix))
            result = dataclasses.replace(result, copy=copy)
        yield result
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
