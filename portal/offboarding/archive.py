"""Reading an institution archive without trusting it.

An archive is an uncompressed tar (a compressed one could expand without bound) of
regular files only: ``manifest.json``, ``records/<label>.jsonl`` and ``files/<stored
name>``. Nothing is ever extracted to disk: members are read from the tar as streams,
hashed as they go, so a hostile name (``../x``, ``/etc/passwd``, a link, a device, a
duplicate) is refused without touching the filesystem, and memory holds a chunk at a
time (plus the set of names and, for the reference check, the numbers of the rows).

``check`` answers every problem as ``(path, reason)``: a member whose size or SHA-256
is not the manifest's, a listed member that is missing, an unlisted one, a record that
does not parse or names a row, user or stored file the archive does not hold, another
institution's row, and an audit event that does not match its hash.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from portal.exams import audit_chain
from portal.offboarding import plan

CHUNK = 1024 * 1024
# The manifest and one record line are parsed in memory: bounded.
MANIFEST_LIMIT = 64 * 1024 * 1024
LINE_LIMIT = 16 * 1024 * 1024
# Problems listed per record file: one broken column would otherwise list every row.
PER_FILE = 20
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ArchiveRefused(Exception):
    """The archive cannot be read at all (not a file, not an uncompressed tar)."""


def name_problem(name: str) -> str | None:
    """Why ``name`` may not be a member of an archive, or None."""
    if not isinstance(name, str) or not name:
        return "an empty name"
    if len(name) > 1024:
        return "a name longer than 1024 characters"
    if "\x00" in name or "\\" in name or any(ord(c) < 32 for c in name):
        return "a name with a control character or backslash"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "a path that climbs out of the archive (..)"
    if any(p in ("", ".") for p in parts):
        return "a path with an empty or '.' component"
    if name == "manifest.json":
        return None
    if name.startswith("records/") and len(parts) == 2 and name.endswith(".jsonl"):
        return None
    if name.startswith("files/") and len(parts) > 2:
        return None
    return "not a member an institution archive has (manifest.json, records/, files/)"


def walk(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The members in order, without keeping each one's header in memory."""
    while True:
        member = tar.next()
        if member is None:
            return
        yield member
        # tarfile keeps every header it read; an archive of a million files need not.
        tar.members.clear()


def open_tar(path) -> tuple[tarfile.TarFile, int]:
    p = Path(path)
    if not p.is_file():
        raise ArchiveRefused(f"{path}: not a file")
    try:
        return tarfile.open(p, "r:"), p.stat().st_size
    except (tarfile.TarError, OSError) as e:
        raise ArchiveRefused(f"{path}: not an uncompressed tar archive ({e})") from None


def hash_member(tar, member, keep=False) -> tuple[int, str, bytes | None]:
    digest, size, kept = hashlib.sha256(), 0, bytearray() if keep else None
    with tar.extractfile(member) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if kept is not None:
                kept += chunk
    return size, digest.hexdigest(), bytes(kept) if kept is not None else None


@dataclass
class Checked:
    path: str
    problems: list = field(default_factory=list)
    manifest: dict | None = None
    present: dict = field(default_factory=dict)  # member name -> (size, sha256)
    counts: dict = field(default_factory=dict)  # record label -> rows
    chained: int = 0  # audit events whose hash was recomputed

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, path, reason):
        self.problems.append((path, reason))

    @property
    def stored_files(self) -> int:
        return sum(1 for name in self.present if name.startswith("files/"))

    @property
    def stored_bytes(self) -> int:
        return sum(s for name, (s, _) in self.present.items() if name.startswith("files/"))


def check(path) -> Checked:
    """Every check of the archive at ``path``; raises ``ArchiveRefused`` only when it
    cannot be read as a tar at all."""
    result = Checked(str(path))
    tar, archive_size = open_tar(path)
    with tar:
        manifest_bytes = _read_members(tar, archive_size, result)
        if manifest_bytes is None:
            result.problem("manifest.json", "missing: the archive has no manifest")
            return result
        manifest = _parse_manifest(manifest_bytes, result)
        if manifest is None:
            return result
        result.manifest = manifest
        _compare(manifest, result)
    if result.ok:
        # References are only worth reading in records known to be the manifest's.
        tar, _ = open_tar(path)
        with tar:
            _check_records(tar, manifest, result)
    return result


def _read_members(tar, archive_size, result) -> bytes | None:
    manifest_bytes = None
    try:
        for member in walk(tar):
            name = member.name
            reason = name_problem(name)
            if reason is None and not member.isreg():
                reason = "not a regular file (a link, directory or device)"
            if reason is None and member.issparse():
                reason = "a sparse member"
            if reason is None and name in result.present:
                reason = "appears more than once"
            if reason is None and member.size > archive_size:
                result.problem(name, f"declares {member.size} bytes, more than the archive holds")
                return manifest_bytes
            if reason is None and name == "manifest.json" and member.size > MANIFEST_LIMIT:
                reason = f"a manifest over {MANIFEST_LIMIT} bytes"
            if reason is not None:
                result.problem(name, f"refused: {reason}")
                continue
            size, sha, kept = hash_member(tar, member, keep=name == "manifest.json")
            result.present[name] = (size, sha)
            if kept is not None:
                manifest_bytes = kept
    except (tarfile.TarError, OSError, EOFError) as e:
        result.problem(result.path, f"a damaged or truncated tar: {e}")
    return manifest_bytes


def _parse_manifest(data: bytes, result) -> dict | None:
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        result.problem("manifest.json", f"not JSON: {e}")
        return None
    bad = _manifest_shape(manifest)
    if bad:
        result.problem("manifest.json", bad)
        return None
    return manifest


def _manifest_shape(m) -> str | None:
    if not isinstance(m, dict):
        return "not a JSON object"
    if m.get("format") != plan.FORMAT:
        return f"not an institution archive (format {str(m.get('format'))[:80]!r})"
    if m.get("format_version") != plan.FORMAT_VERSION:
        return f"format version {str(m.get('format_version'))[:20]!r}, this portal reads 1"
    inst = m.get("institution")
    if not (
        isinstance(inst, dict)
        and _is_int(inst.get("id"))
        and isinstance(inst.get("slug"), str)
        and isinstance(inst.get("name"), str)
    ):
        return "the institution (id, slug, name) is missing or malformed"
    files = m.get("files")
    if not isinstance(files, list):
        return "the list of files is missing"
    for entry in files:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and _is_int(entry.get("size"))
            and entry["size"] >= 0
            and isinstance(entry.get("sha256"), str)
            and SHA256.match(entry["sha256"])
        ):
            return f"a malformed file entry: {json.dumps(entry)[:200]}"
    records = m.get("records")
    if not isinstance(records, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("path"), str) and _is_int(v.get("count"))
        for v in records.values()
    ):
        return "the list of records is missing or malformed"
    if not isinstance(m.get("absent_files", []), list):
        return "absent_files is not a list"
    return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _compare(manifest, result):
    listed = {}
    for entry in manifest["files"]:
        path = entry["path"]
        reason = name_problem(path)
        if reason is None and path == "manifest.json":
            reason = "the manifest cannot list itself"
        if reason is None and path in listed:
            reason = "listed more than once"
        if reason:
            result.problem(path, f"in the manifest: {reason}")
            continue
        listed[path] = entry
        if path not in result.present:
            result.problem(path, "listed in the manifest but not in the archive")
            continue
        size, sha = result.present[path]
        if size != entry["size"]:
            result.problem(path, f"{size} bytes, the manifest says {entry['size']}")
        elif sha != entry["sha256"]:
            result.problem(path, "its SHA-256 is not the manifest's (the content changed)")
    for path in result.present:
        if path != "manifest.json" and path not in listed:
            result.problem(path, "in the archive but not listed in the manifest")
    for label, entry in manifest["records"].items():
        if entry["path"] not in listed:
            result.problem(entry["path"], f"the {label} records are not in the archive")


def read_lines(tar, member, path, result) -> Iterator[tuple[int, dict]]:
    """(line number, row) of a records member; a bad line is a problem, not a stop."""
    reported = 0
    with tar.extractfile(member) as f:
        number = 0
        while line := f.readline(LINE_LIMIT + 1):
            number += 1
            if len(line) > LINE_LIMIT:
                result.problem(path, f"line {number}: longer than {LINE_LIMIT} bytes")
                return
            try:
                row = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                row = None
            if not isinstance(row, dict):
                if reported < PER_FILE:
                    result.problem(path, f"line {number}: not a JSON object")
                reported += 1
                continue
            yield number, row


class _Refs:
    """The numbers of the rows read so far, per part, to resolve references."""

    def __init__(self):
        self.ids: dict[str, set] = {}
        self.users: set = set()


def members_by_name(tar, wanted: set) -> dict:
    """The headers of the members named ``wanted`` (the first of each name), from a
    tar opened afresh."""
    found = {}
    for member in walk(tar):
        if member.name in wanted and member.name not in found:
            found[member.name] = member
    return found


def _check_records(tar, manifest, result):
    inst_id = manifest["institution"]["id"]
    records = manifest["records"]
    known = {part.label: part for part in plan.parts()}
    for label in records:
        if label not in known and label not in ("accounts.User", "tenants.Institution"):
            result.problem(records[label]["path"], f"records of an unknown kind {label[:80]!r}")
    members = members_by_name(tar, {e["path"] for e in records.values()})
    refs = _Refs()
    absent = {a.get("name") for a in manifest.get("absent_files", []) if isinstance(a, dict)}
    referenced: set[str] = set()

    # The institution, then its users, then each part in the order an import restores.
    entry = records.get("tenants.Institution")
    if entry is None:
        result.problem(plan.INSTITUTION_PATH, "the institution's record is missing")
    else:
        rows = list(read_lines(tar, members[entry["path"]], entry["path"], result))
        if len(rows) != 1 or rows[0][1].get("id") != inst_id:
            result.problem(entry["path"], "does not hold exactly the manifest's institution")
        result.counts["tenants.Institution"] = len(rows)
    entry = records.get("accounts.User")
    if entry is not None:
        for number, row in read_lines(tar, members[entry["path"]], entry["path"], result):
            if not _is_int(row.get("id")) or not isinstance(row.get("email"), str):
                result.problem(entry["path"], f"line {number}: a user without id or email")
                continue
            extra = set(row) - set(plan.USER_FIELDS)
            if extra:
                result.problem(entry["path"], f"line {number}: unexpected fields {sorted(extra)}")
            refs.users.add(row["id"])
        result.counts["accounts.User"] = len(refs.users)

    chain = _Chain(manifest, result)
    for label, part in known.items():
        entry = records.get(label)
        if entry is None:
            continue
        if entry["path"] != part.path:
            result.problem(entry["path"], f"the {label} records belong at {part.path}")
            continue
        count = _check_part(
            tar, members[part.path], part, inst_id, refs, absent, referenced, result, chain
        )
        result.counts[label] = count
        if count != entry["count"]:
            result.problem(part.path, f"{count} rows, the manifest says {entry['count']}")
    chain.finish()
    for name in result.present:
        if name.startswith("files/") and name[len("files/") :] not in referenced:
            result.problem(name, "a stored file no record names")


def _check_part(tar, member, part, inst_id, refs, absent, referenced, result, chain) -> int:
    path = part.path
    columns = plan.columns(part)
    stored = plan.stored_fields(part)
    pk = part.model._meta.pk.attname
    ids = refs.ids.setdefault(part.label, set())
    self_refs = []
    reported = 0

    def problem(number, reason):
        nonlocal reported
        if reported < PER_FILE:
            result.problem(path, f"line {number}: {reason}")
        elif reported == PER_FILE:
            result.problem(path, "more problems in this file are not listed")
        reported += 1

    count = 0
    for number, row in read_lines(tar, member, path, result):
        count += 1
        ident = row.get(pk)
        if ident is None or ident in ids:
            problem(number, f"a missing or repeated {pk}")
            continue
        ids.add(ident)
        for f in columns:
            value = row.get(f.attname)
            if f.attname not in row:
                continue
            if plan.is_institution_field(f):
                if value != inst_id:
                    problem(number, f"{f.attname} {value!r} is not the archive's institution")
            elif value is None:
                continue
            elif plan.is_user_field(f):
                if value not in refs.users:
                    problem(number, f"{f.attname} {value!r} names a user not in the archive")
            elif f.is_relation:
                target = plan.target_part(f)
                if target is part:
                    self_refs.append((number, f.attname, value))
                elif target is None or value not in refs.ids.get(target.label, ()):
                    problem(number, f"{f.attname} {value!r} names a row not in the archive")
            elif f.name in stored and value:
                if not isinstance(value, str) or name_problem(f"files/{value}"):
                    problem(number, f"{f.attname} is not a stored file name")
                elif f"files/{value}" in result.present:
                    referenced.add(value)
                elif value not in absent:
                    problem(number, f"{f.attname} {value} is not in the archive")
        for name, target in part.id_keyed_json.items():
            value = row.get(name) or {}
            wanted = refs.ids.get(target, set())
            if not isinstance(value, dict) or any(
                not k.isdigit() or int(k) not in wanted for k in value
            ):
                problem(number, f"{name} names a {target} row not in the archive")
        if part.label == "exams.AuditEvent":
            chain.add(number, row)
    for number, attname, value in self_refs:
        if value not in ids:
            problem(number, f"{attname} {value!r} names a row not in the archive")
    return count


class _Chain:
    """The audit events' hash chain (``portal.exams.audit_chain``) recomputed from the
    archive's own rows."""

    def __init__(self, manifest, result):
        self.result = result
        self.head = manifest.get("audit_chain_head")
        self.previous = audit_chain.GENESIS
        self.last_seq = 0
        self.broken = False

    def add(self, number, row):
        if self.broken or row.get("seq") is None:
            return
        from types import SimpleNamespace

        from django.utils.dateparse import parse_datetime

        path = plan.Part("exams.AuditEvent").path
        try:
            event = SimpleNamespace(**{k: row.get(k) for k in (
                "id", "institution_id", "seq", "user_id", "action", "object_type",
                "object_id", "ip_address", "detail",
            )}, at=parse_datetime(row.get("at") or ""))  # fmt: skip
            if row["seq"] != self.last_seq + 1:
                self.result.problem(path, f"line {number}: audit event number {row['seq']} "
                                    f"follows {self.last_seq}: the chain has a gap")  # fmt: skip
                self.broken = True
                return
            expected = audit_chain.chain_hash(self.previous, event)
        except (TypeError, ValueError, AttributeError, KeyError) as e:
            self.result.problem(path, f"line {number}: an audit event that cannot be hashed ({e})")
            self.broken = True
            return
        if expected != row.get("hash"):
            self.result.problem(
                path, f"line {number}: audit event {row.get('id')} (number {row['seq']}) "
                "does not match its hash"
            )  # fmt: skip
            self.broken = True
            return
        self.previous, self.last_seq = expected, row["seq"]
        self.result.chained += 1

    def finish(self):
        if self.broken or not isinstance(self.head, dict):
            return
        if self.head.get("seq") != self.last_seq or (
            self.last_seq and self.head.get("hash") != self.previous
        ):
            self.result.problem(
                plan.Part("exams.AuditEvent").path,
                f"the audit log ends at number {self.last_seq}; the chain head in the "
                f"manifest says {self.head.get('seq')!r}",
            )
