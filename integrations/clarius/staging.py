"""Downloading a Clarius media link into the portal's storage, for a claimed row.

The one sequence every download follows (a capture, a DICOM export, a raw-data file):

1. ``stage``: the row's folder under ``PORTAL_MEDIA_ROOT`` exists, and its staging path
   ``<folder>/<stem>.download`` is free of the part files a killed worker left behind
   (the caller holds the row's claim now, so whatever is there for it is stale);
2. ``download``: the client streams the link to the staging path (size-capped; the file
   appears only complete, see ``api/download.py``);
3. the caller checks what arrived, then ``keep`` moves it to its final place, or
   ``drop`` removes it.
"""

from __future__ import annotations

from pathlib import Path

from integrations.clarius.api.download import DownloadedMedia
from portal.exams import media


def stage(folder: str, stem: str) -> Path:
    """The staging path for ``stem`` in ``folder`` (relative to the media root), ready."""
    directory = media.media_root() / folder
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f"{stem}.download"
    for leftover in part_files(staging):
        leftover.unlink(missing_ok=True)
    return staging


def part_files(staging: Path) -> list[Path]:
    """The partial files of downloads to ``staging`` (``api/download.py`` names them)."""
    return list(staging.parent.glob(f".{staging.name}.*.part"))


def download(client, url: str, staging: Path) -> DownloadedMedia:
    """Stream ``url`` to ``staging`` with ``client``, capped at ``MAX_CAPTURE_BYTES``."""
    return client.download_media(url, staging, max_bytes=media.MAX_CAPTURE_BYTES)


def keep(result: DownloadedMedia, relpath: str) -> Path:
    """Move the downloaded file to ``relpath`` (relative to the media root)."""
    final = media.absolute(relpath)
    Path(result.path).replace(final)
    return final


def drop(result: DownloadedMedia) -> None:
    """Remove a downloaded file that is not kept."""
    Path(result.path).unlink(missing_ok=True)
