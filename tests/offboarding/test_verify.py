"""verify_export against damaged and hostile archives: each refused, the path named,
nothing extracted anywhere, and import_institution refuses them too (nothing written)."""

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portal.exams.models import Capture
from portal.tenants.models import Institution


@pytest.fixture
def archive(local_storage, world, tmp_path):
    path = tmp_path / "northside.tar"
    call_command("export_institution", "northside", str(path), stdout=io.StringIO())
    return path


def read(path):
    with tarfile.open(path) as tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else b"") for m in tar.getmembers()]


def write(path, entries):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            if info.isreg():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)


def manifest_of(entries):
    return json.loads(next(d for m, d in entries if m.name == "manifest.json"))


def set_manifest(entries, manifest, rehash=()):
    """The manifest replaced; the members named in ``rehash`` listed with their new
    size and SHA-256, as a forger would."""
    data = {m.name: d for m, d in entries}
    for entry in manifest["files"]:
        if entry["path"] in rehash:
            entry["size"] = len(data[entry["path"]])
            entry["sha256"] = hashlib.sha256(data[entry["path"]]).hexdigest()
    for i, (m, _) in enumerate(entries):
        if m.name == "manifest.json":
            entries[i] = (m, json.dumps(manifest).encode())


def member(name, data=b"x", kind=tarfile.REGTYPE, **fields):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def verify_fails(path):
    err = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("verify_export", str(path), stdout=io.StringIO(), stderr=err)
    return err.getvalue() + str(failed.value)


def media_name():
    capture = Capture.objects.filter(institution__slug="northside").order_by("pk").first()
    return f"files/{capture.file}"


def tamper_byte(entries):
    name = media_name()
    for i, (m, d) in enumerate(entries):
        if m.name == name:
            entries[i] = (m, d[:10] + bytes([d[10] ^ 1]) + d[11:])
    return name, "SHA-256"


def drop_file(entries):
    name = media_name()
    entries[:] = [(m, d) for m, d in entries if m.name != name]
    return name, "listed in the manifest but not in the archive"


def extra_file(entries):
    name = f"files/{Institution.objects.get(slug='northside').pk}/smuggled.bin"
    entries.insert(1, member(name, b"not from the portal"))
    return name, "not listed in the manifest"


def manifest_size_lies(entries):
    manifest = manifest_of(entries)
    entry = next(e for e in manifest["files"] if e["path"].startswith("records/exams.exam"))
    entry["size"] += 1
    set_manifest(entries, manifest)
    return entry["path"], "the manifest says"


def manifest_hash_lies(entries):
    manifest = manifest_of(entries)
    entry = next(e for e in manifest["files"] if e["path"] == media_name())
    entry["sha256"] = "0" * 64
    set_manifest(entries, manifest)
    return entry["path"], "SHA-256"


def manifest_count_lies(entries):
    manifest = manifest_of(entries)
    manifest["records"]["exams.Exam"]["count"] = 7
    set_manifest(entries, manifest)
    return "records/exams.exam.jsonl", "the manifest says 7"


def foreign_row(entries):
    """A row of another institution slipped in, the manifest forged to match."""
    south = Institution.objects.get(slug="southside").pk
    path = "records/exams.patient.jsonl"
    for i, (m, d) in enumerate(entries):
        if m.name == path:
            row = json.loads(d.splitlines()[0])
            row.update(id=row["id"] + 1000, institution_id=south)
            entries[i] = (m, d + json.dumps(row).encode() + b"\n")
    manifest = manifest_of(entries)
    manifest["records"]["exams.Patient"]["count"] += 1
    set_manifest(entries, manifest, rehash={path})
    return path, "is not the archive's institution"


def dangling_file(entries):
    """A capture's file taken out of the archive and the manifest alike."""
    name = media_name()
    entries[:] = [(m, d) for m, d in entries if m.name != name]
    manifest = manifest_of(entries)
    manifest["files"] = [e for e in manifest["files"] if e["path"] != name]
    set_manifest(entries, manifest)
    return "records/exams.capture.jsonl", f"{name[len('files/') :]} is not in the archive"


def audit_rewritten(entries):
    pytest.importorskip("portal.exams.audit_chain")
    path = "records/exams.auditevent.jsonl"
    for i, (m, d) in enumerate(entries):
        if m.name == path:
            entries[i] = (m, d.replace(b'"view_exam"', b'"list_exams"'))
    set_manifest(entries, manifest_of(entries), rehash={path})
    return path, "does not match its hash"


def no_manifest(entries):
    entries[:] = [(m, d) for m, d in entries if m.name != "manifest.json"]
    return "manifest.json", "missing"


def hostile(name, kind=tarfile.REGTYPE, **fields):
    def change(entries):
        entries.insert(2, member(name, kind=kind, **fields))
        return name, "refused"

    change.__name__ = f"hostile {name!r} {kind!r}"
    return change


def duplicate(entries):
    first = next((m, d) for m, d in entries if m.name.startswith("files/"))
    copy = tarfile.TarInfo(first[0].name)
    entries.append((copy, first[1]))
    return first[0].name, "appears more than once"


CASES = [
    tamper_byte, drop_file, extra_file, manifest_size_lies, manifest_hash_lies,
    manifest_count_lies, foreign_row, dangling_file, audit_rewritten, no_manifest, duplicate,
    hostile("../escaped"), hostile("/etc/escaped"), hostile("files/../../escaped"),
    hostile("records/../../escaped.jsonl"), hostile("files/1/a\\..\\..\\escaped"),
    hostile("C:/escaped"), hostile("elsewhere/escaped"),
    hostile("files/1/link", tarfile.SYMTYPE, linkname="/etc/passwd"),
    hostile("files/1/hard", tarfile.LNKTYPE, linkname="manifest.json"),
    hostile("files/1/dir", tarfile.DIRTYPE), hostile("files/1/fifo", tarfile.FIFOTYPE),
    hostile("files/1/dev", tarfile.CHRTYPE, devmajor=1, devminor=3),
]  # fmt: skip


@pytest.mark.parametrize("change", CASES, ids=lambda c: c.__name__)
def test_each_damage_fails_verify_with_the_path_named(archive, tmp_path, change):
    entries = read(archive)
    bad = tmp_path / "bad.tar"
    path, reason = change(entries)
    write(bad, entries)
    before = set(os.listdir(tmp_path.parent)), set(os.listdir("."))
    message = verify_fails(bad)
    assert path in message and reason in message, message
    # Nothing was extracted anywhere.
    assert (set(os.listdir(tmp_path.parent)), set(os.listdir("."))) == before
    assert not (tmp_path.parent / "escaped").exists()
    # And the import refuses it, writing nothing.
    institutions = Institution.objects.count()
    with pytest.raises(CommandError, match="not imported"):
        call_command("import_institution", str(bad), stdout=io.StringIO())
    assert Institution.objects.count() == institutions


def test_the_untouched_archive_verifies(archive):
    out = io.StringIO()
    call_command("verify_export", str(archive), stdout=out)
    assert "sound" in out.getvalue() and "exams.Exam: 1" in out.getvalue()


def test_a_member_claiming_more_than_the_archive_holds_is_refused(archive, tmp_path):
    bad = tmp_path / "huge.tar"
    data = archive.read_bytes()
    info = tarfile.TarInfo("files/1/huge.bin")
    info.size = 10**12
    # The header alone, at the front: no data follows it.
    bad.write_bytes(info.tobuf(tarfile.PAX_FORMAT) + data)
    message = verify_fails(bad)
    assert "files/1/huge.bin" in message and "more than the archive holds" in message


def test_not_a_plain_tar_is_refused(archive, tmp_path):
    squeezed = tmp_path / "northside.tar.gz"
    squeezed.write_bytes(gzip.compress(archive.read_bytes()))
    assert "not an uncompressed tar" in verify_fails(squeezed)
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(4096))
    assert "not an uncompressed tar" in verify_fails(junk) or "damaged" in verify_fails(junk)
    assert "not a file" in verify_fails(tmp_path / "absent.tar")


def test_a_truncated_archive_is_refused(archive, tmp_path):
    cut = tmp_path / "cut.tar"
    cut.write_bytes(archive.read_bytes()[:4000])
    message = verify_fails(cut)
    assert "problems" in message
