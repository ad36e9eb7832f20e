"""``manage.py migrate_media``: the files of a local media folder copied into the
configured storage, each checked against its checksum; safe to run again."""

import hashlib
import io
import shutil

import pytest
from django.core.management import CommandError, call_command

from portal import storage as store
from portal.exams.models import Capture
from tests.factories import PNG, make_exam


@pytest.fixture
def old_media(settings, tmp_path, northside, bob):
    """Two exams' captures (one with a thumbnail) in a local folder, as an older portal
    kept them; the rows name them."""
    old = tmp_path / "old-media"
    settings.PORTAL_MEDIA_ROOT = old
    settings.MEDIA_ROOT = old
    exams = [make_exam(northside, bob, captures=2), make_exam(northside, bob, captures=1)]
    capture = exams[0].captures.first()
    capture.thumbnail = capture.file.replace(".png", ".thumb.jpg")
    (old / capture.thumbnail).write_bytes(b"\xff\xd8\xff thumbnail")
    capture.save()
    return old


def names():
    rows = Capture.objects.exclude(file="")
    return sorted([c.file for c in rows] + [c.thumbnail for c in rows if c.thumbnail])


def migrate(old, *extra):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("migrate_media", "--from", str(old), *extra, stdout=out, stderr=err)
    except CommandError as e:
        return out.getvalue(), err.getvalue(), e
    return out.getvalue(), err.getvalue(), None


def test_it_copies_every_file_then_finds_them_there(old_media, storage):
    out, err, failed = migrate(old_media)
    assert failed is None, err
    assert "4 stored files: 4 copied, 0 already there, 0 missing locally, 0 mismatched" in out
    for name in names():
        assert store.read_bytes(name) == (old_media / name).read_bytes()
    # Run again: nothing to do, nothing rewritten.
    out, err, failed = migrate(old_media)
    assert failed is None, err
    assert "0 copied, 4 already there" in out


def test_a_dry_run_stores_nothing(old_media, storage):
    out, _, failed = migrate(old_media, "--dry-run")
    assert failed is None
    assert "4 would copy" in out
    assert not any(store.exists(name) for name in names())


def test_a_corrupted_source_is_reported_and_never_stored(old_media, storage):
    damaged = Capture.objects.order_by("pk").last()
    (old_media / damaged.file).write_bytes(PNG[:-1] + b"!")  # not what its SHA-256 says
    gone = Capture.objects.order_by("pk").first()
    (old_media / gone.file).unlink()
    out, err, failed = migrate(old_media)
    assert failed is not None
    assert "2 copied, 0 already there, 1 missing locally, 1 mismatched" in out
    assert f"mismatched: {damaged.file}" in err and f"missing locally: {gone.file}" in err
    assert not store.exists(damaged.file) and not store.exists(gone.file)
    # Output names stored files only: never a patient.
    assert "Pat" not in out + err and "MRN" not in out + err


def test_a_stored_copy_with_other_bytes_is_replaced(old_media, storage):
    capture = Capture.objects.order_by("pk").first()
    store.save_bytes(capture.file, b"something else")
    out, _, failed = migrate(old_media)
    assert failed is None and "4 copied" in out
    assert hashlib.sha256(store.read_bytes(capture.file)).hexdigest() == capture.sha256


def test_a_failed_upload_commits_nothing_and_a_rerun_completes(old_media, storage, monkeypatch):
    real = store.save_file
    calls = []

    def fail_once(name, path, **kwargs):
        calls.append(name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the command killed half-way through its copies
        return real(name, path, **kwargs)

    monkeypatch.setattr(store, "save_file", fail_once)
    with pytest.raises(KeyboardInterrupt):
        migrate(old_media)
    assert store.exists(calls[0]) and not store.exists(calls[1])
    out, _, failed = migrate(old_media)
    assert failed is None and "3 copied, 1 already there" in out


def test_the_media_root_itself_is_already_there(old_media, local_storage, settings):
    shutil.copytree(old_media, settings.PORTAL_MEDIA_ROOT)
    out, _, failed = migrate(settings.PORTAL_MEDIA_ROOT)
    assert failed is None and "0 copied, 4 already there" in out
