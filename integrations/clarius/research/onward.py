"""A stored research DICOM export, on to the institution's PACS destinations.

Clarius' export is a Part-10 file (or, for some options, a ZIP of them). Each DICOM file
is planned as it is (``portal.outbound.planning.plan_file``): the PACS receives exactly
what Clarius made, with its own UIDs. The files of a ZIP are unpacked beside it first,
under names of ours (never the archive's), within a size cap, because a destination
sends files, not archives.
"""

from __future__ import annotations

import logging
import zipfile

from portal import storage
from portal.exams import media
from portal.outbound import planning

logger = logging.getLogger(__name__)

# An export's archive unpacks to at most this much, and this many files (a ZIP bomb, or
# a mistaken export of a whole day, stops here instead of filling the disk).
MAX_UNPACKED_BYTES = 2 * media.MAX_CAPTURE_BYTES
MAX_FILES = 2000
CHUNK = 1024 * 1024


def dicom_files(export) -> list[str]:
    """The export's DICOM files, as stored file names. A ZIP is read from a local copy
    (``storage.local_path``) and each DICOM member stored whole under a name of ours; if
    anything fails half-way, the members stored so far are removed again."""
    if export.content_type != "application/zip":
        return [export.file]
    folder = export.file.removesuffix(".zip")
    relpaths, total = [], 0
    try:
        with storage.local_path(export.file) as local, zipfile.ZipFile(local) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()][:MAX_FILES]
            for member in members:
                with archive.open(member) as source:
                    head = source.read(132)
                    if head[128:132] != b"DICM":  # a README, a DICOMDIR's viewer: not sent
                        continue
                    relpath = f"{folder}/{len(relpaths) + 1:04d}.dcm"
                    with storage.writer(relpath) as out:
                        out.write(head)
                        total += len(head)
                        while chunk := source.read(CHUNK):
                            total += len(chunk)
                            if total > MAX_UNPACKED_BYTES:
                                raise ValueError("the archive unpacks to more than the size cap")
                            out.write(chunk)
                relpaths.append(relpath)
    except BaseException:
        for relpath in relpaths:
            storage.delete(relpath)
        raise
    return relpaths


def plan(export) -> int:
    """Plan each DICOM file of a finished export for the PACS destinations; how many rows.

    Nothing is unpacked when no destination takes research files. A broken archive is
    logged, not raised: the export itself is done and downloadable all the same.
    """
    exam = export.exam
    if not planning.destinations_for(exam.institution_id, planning.What.RESEARCH):
        return 0
    try:
        relpaths = dicom_files(export)
    except (zipfile.BadZipFile, OSError, ValueError, storage.StorageError) as e:
        logger.warning("research export %s not sent onward: %s", export.pk, e)
        return 0
    return sum(len(planning.plan_file(exam, relpath)) for relpath in relpaths)
