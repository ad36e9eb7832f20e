"""Copy the files kept under a local media folder into the configured storage.

Every stored file a row names (each model's ``stored_files``: capture media and
thumbnails, report PDFs, research exports and their DICOM files) is read from
``PORTAL_MEDIA_ROOT`` (or ``--from``) and written through ``portal.storage``, all or
nothing: with the SHA-256 the row recorded, the copy is only committed if it matches;
either way the stored copy is read back and compared with the source. A file already
stored with the same bytes is left alone, so the command is safe to run again (after an
interruption, or to check a finished migration).

The output names stored files only by their stored names (institution number and
UUIDs), never a patient. It exits non-zero when a file was missing locally or did not
match its checksum.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal import storage


def stored_names() -> dict[str, str]:
    """Every stored file name a row holds, with its recorded SHA-256 ("" if none)."""
    names: dict[str, str] = {}
    for model in apps.get_models():
        for field, checksum_field in getattr(model, "stored_files", {}).items():
            rows = model._base_manager.exclude(**{field: ""}).exclude(**{f"{field}__isnull": True})
            columns = [field, checksum_field] if checksum_field else [field]
            for values in rows.values_list(*columns).iterator():
                name, checksum = values[0], (values[1] if checksum_field else "")
                names[name] = names.get(name) or (checksum or "")
    return names


def sha256_of(handle) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    while chunk := handle.read(storage.CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def source_file(root: Path, name: str) -> Path:
    """``name`` under ``root``, refusing a name that would leave it."""
    root = root.resolve()
    path = (root / storage.check_name(name)).resolve()
    if root not in path.parents:
        raise ValueError(f"not under the source folder: {name!r}")
    return path


def stored_fingerprint(name: str) -> tuple[int, str] | None:
    """The stored copy's size and SHA-256, or ``None`` when there is none."""
    if not storage.exists(name):
        return None
    with storage.open_read(name) as f:
        return sha256_of(f)


class Command(BaseCommand):
    help = (
        "Copy every stored file the database names from the local media folder into the "
        "configured storage, verifying each checksum; safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from",
            dest="source",
            default=None,
            help="The local folder to copy from (default: PORTAL_MEDIA_ROOT).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and count, but store nothing."
        )

    def handle(self, *args, source=None, dry_run=False, **options):
        root = Path(source) if source else Path(settings.PORTAL_MEDIA_ROOT)
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder")
        counts = {"copied": 0, "already there": 0, "missing locally": 0, "mismatched": 0}
        names = stored_names()
        for name in sorted(names):
            outcome = self.migrate(root, name, names[name], dry_run)
            counts[outcome] += 1
            if outcome in ("missing locally", "mismatched"):
                self.stderr.write(f"{outcome}: {name}")
        verb = "would copy" if dry_run else "copied"
        self.stdout.write(
            f"{len(names)} stored files: {counts['copied']} {verb}, "
            f"{counts['already there']} already there, "
            f"{counts['missing locally']} missing locally, {counts['mismatched']} mismatched"
        )
        if counts["missing locally"] or counts["mismatched"]:
            raise CommandError("some files were not migrated (listed above)")

    def migrate(self, root: Path, name: str, expected: str, dry_run: bool) -> str:
        try:
            path = source_file(root, name)
        except ValueError:
            return "missing locally"
        if not path.is_file():
            return "missing locally"
        with path.open("rb") as f:
            size, digest = sha256_of(f)
        if expected and digest != expected:
            return "mismatched"  # the local copy is not what was recorded: never stored
        if storage.is_local() and storage.local_file(name) == path:
            return "already there"  # the source is the storage itself
        if stored_fingerprint(name) == (size, digest):
            return "already there"
        if dry_run:
            return "copied"
        try:
            storage.save_file(name, path, expected_sha256=expected or digest)
        except storage.ChecksumMismatch:
            return "mismatched"  # changed while being copied; nothing was committed
        if stored_fingerprint(name) != (size, digest):
            storage.delete(name)  # the store holds other bytes than were sent
            return "mismatched"
        return "copied"
