"""Writing an institution's archive.

The rows are read in one read-only transaction (repeatable read on PostgreSQL: one
consistent picture of the institution while the portal keeps working), each part
written as JSON lines to a scratch file, then added to the tar; the stored files follow,
read through ``portal.storage`` (local disk or S3) a chunk at a time and hashed as they
are copied. The manifest comes last, listing every member with its size and SHA-256.
The tar is written under a temporary name beside the destination and renamed only once
complete, so a half-written archive never has the final name.

Every query is scoped to the one institution (``institution=``, or the part's ``scope``);
users are those its rows name, with their address and name only.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from portal import storage
from portal.offboarding import codec, plan

CHUNK = storage.CHUNK


class _Hashing:
    """A readable stream that hashes what is read through it."""

    def __init__(self, source):
        self.source = source
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n=-1):
        chunk = self.source.read(n)
        self.hash.update(chunk)
        self.size += len(chunk)
        return chunk


def portal_version() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("clarius-portal")
    except PackageNotFoundError:
        found = None
    commit = None
    try:
        answer = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if answer.returncode == 0:
            commit = answer.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"version": found, "commit": commit}


class _Records:
    """A records file being written to scratch: JSON lines, hashed as written."""

    def __init__(self, folder: Path, archive_path: str):
        self.archive_path = archive_path
        self.local = folder / archive_path.replace("/", "_")
        self.out = self.local.open("wb")
        self.hash = hashlib.sha256()
        self.size = 0
        self.count = 0

    def write(self, row: dict):
        line = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        self.out.write(line)
        self.hash.update(line)
        self.size += len(line)
        self.count += 1

    def close(self):
        self.out.close()


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(time.time())
    info.mode = 0o644
    info.type = tarfile.REGTYPE
    return info


def export(institution, destination, *, user=None, log=lambda message: None) -> dict:
    """Write ``institution``'s archive to ``destination``; returns the manifest."""
    destination = Path(destination)
    folder = destination.parent
    temporary = folder / f".{destination.name}.{secrets.token_hex(6)}.part"
    with tempfile.TemporaryDirectory(prefix="portal-export-", dir=storage.scratch_dir()) as s:
        scratch = Path(s)
        _audit_export(institution, destination, user)
        records, stored, head = _write_records(institution, scratch)
        try:
            manifest = _write_tar(institution, temporary, records, stored, head, log)
            os.replace(temporary, destination)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    return manifest


def _write_records(institution, scratch: Path):
    """Every row of the institution, to scratch files; and the stored files they name
    ({name: (recorded sha256, "label id")})."""
    files: list[_Records] = []
    stored: dict[str, tuple[str, str]] = {}
    user_ids: set[int] = set()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        out = _Records(scratch, plan.INSTITUTION_PATH)
        from portal.tenants.models import Institution

        fields = [f for f in Institution._meta.concrete_fields]
        row = Institution.objects.filter(pk=institution.pk).values(*[f.attname for f in fields])
        out.write(codec.row_of(fields, row.get()))
        out.close()
        files.append(("tenants.Institution", out))
        for part in plan.parts():
            out = _Records(scratch, part.path)
            fields = plan.columns(part)
            user_fields = [f.attname for f in fields if plan.is_user_field(f)]
            stored_fields = plan.stored_fields(part)
            rows = (
                part.model._base_manager.filter(**{part.scope: institution})
                .order_by(*part.order)
                .values(*[f.attname for f in fields])
            )
            for values in rows.iterator(chunk_size=2000):
                for attname in user_fields:
                    if values[attname] is not None:
                        user_ids.add(values[attname])
                for name, checksum in stored_fields.items():
                    if values.get(name):
                        recorded = values.get(checksum, "") if checksum else ""
                        stored.setdefault(values[name], (recorded, f"{part.label} {values['id']}"))
                out.write(codec.row_of(fields, values))
            out.close()
            files.append((part.label, out))
        out = _Records(scratch, plan.USERS_PATH)
        model = plan.user_model()
        fields = [model._meta.get_field(name) for name in plan.USER_FIELDS]
        ordered = sorted(user_ids)
        for start in range(0, len(ordered), 1000):
            batch = model._base_manager.filter(pk__in=ordered[start : start + 1000])
            for values in batch.order_by("pk").values(*plan.USER_FIELDS):
                out.write(codec.row_of(fields, values))
        out.close()
        files.append(("accounts.User", out))
        head = _audit_head(institution)
    return files, stored, head


def _audit_export(institution, destination, user):
    """The export reads every patient's data: it is in the institution's log (and so in
    the archive itself)."""
    from portal.exams.models import AuditEvent

    AuditEvent.objects.create(
        institution=institution,
        user=user,
        action=AuditEvent.Action.EXPORT_INSTITUTION,
        object_type="institution",
        object_id=str(institution.pk),
        detail={"export": "whole institution (offboarding)", "archive": destination.name[:200]},
    )


def _audit_head(institution):
    from portal.exams.models import AuditChainHead

    head = AuditChainHead._base_manager.filter(institution_id=institution.pk).first()
    return {"seq": head.seq, "hash": head.hash} if head else {"seq": 0, "hash": None}


def _write_tar(institution, temporary: Path, records, stored, head, log) -> dict:
    entries = []
    absent = []
    recorded_mismatch = []
    with temporary.open("wb") as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for _label, out in records:
                with out.local.open("rb") as f:
                    tar.addfile(_tarinfo(out.archive_path, out.size), f)
                entries.append(
                    {"path": out.archive_path, "size": out.size, "sha256": out.hash.hexdigest()}
                )
                out.local.unlink()
            for name in sorted(stored):
                recorded, owner = stored[name]
                try:
                    size = storage.size(name)
                    source = storage.open_read(name)
                except (FileNotFoundError, OSError, ValueError) as e:
                    absent.append({"name": name, "referenced_by": owner, "reason": str(e)[:200]})
                    log(f"absent: {name} (named by {owner})")
                    continue
                except Exception as e:  # noqa: BLE001 - S3 answers "not found" in its own words
                    if storage.exists(name):
                        raise
                    absent.append({"name": name, "referenced_by": owner, "reason": str(e)[:200]})
                    log(f"absent: {name} (named by {owner})")
                    continue
                with source:
                    reader = _Hashing(source)
                    tar.addfile(_tarinfo(f"files/{name}", size), reader)
                sha = reader.hash.hexdigest()
                if recorded and recorded != sha:
                    recorded_mismatch.append({"name": name, "referenced_by": owner})
                    log(f"changed since stored: {name} (named by {owner})")
                entries.append({"path": f"files/{name}", "size": size, "sha256": sha})
            manifest = {
                "format": plan.FORMAT,
                "format_version": plan.FORMAT_VERSION,
                "portal": portal_version(),
                "created_at": timezone.now().isoformat(),
                "institution": {
                    "id": institution.pk,
                    "slug": institution.slug,
                    "name": institution.name,
                },
                "records": {
                    label: {"path": out.archive_path, "count": out.count} for label, out in records
                },
                "files": entries,
                "absent_files": absent,
                "files_not_matching_their_record": recorded_mismatch,
                "audit_chain_head": head,
                "left_out": plan.LEFT_OUT,
                "not_classified": plan.unclassified(),
                "notes": plan.NOTES,
            }
            data = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
            tar.addfile(_tarinfo("manifest.json", len(data)), io.BytesIO(data))
        raw.flush()
        os.fsync(raw.fileno())
    manifest["manifest_sha256"] = hashlib.sha256(data).hexdigest()
    return manifest
