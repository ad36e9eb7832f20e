"""The storage API (portal/storage.py) on local files and on a real S3 server: every
test taking ``storage`` runs on both."""

import hashlib
import os
import time
from datetime import timedelta

import pytest
import requests

from portal import storage as store

NAME = "1/exam/request/001.mp4"
MIB = 1024 * 1024


def uploads(s3):
    """Multipart uploads left open in the test's bucket (none on local storage)."""
    if s3 is None:
        return []
    client, bucket = s3
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def parts_left(s3, tmp_path):
    if s3 is not None:
        return uploads(s3)
    return list((tmp_path / "media").rglob("*.part"))


def test_a_stored_file_is_written_read_sized_copied_and_deleted(storage, tmp_path):
    data = os.urandom(3000)
    digest = store.save_bytes(NAME, data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.exists(NAME)
    assert store.size(NAME) == 3000
    assert store.read_bytes(NAME) == data
    with store.open_read(NAME) as f:
        assert f.read(10) == data[:10]
    with store.local_path(NAME) as path:
        assert path.read_bytes() == data
        assert path.suffix == ".mp4"
    source = tmp_path / "source.bin"
    source.write_bytes(data[::-1])
    store.save_file("1/exam/request/002.jpg", source)
    assert store.read_bytes("1/exam/request/002.jpg") == data[::-1]
    store.delete(NAME)
    store.delete(NAME)  # missing: not an error
    assert not store.exists(NAME)
    assert store.is_local() == (storage is None)


@pytest.mark.parametrize("length", [5, 8 * MIB, 20 * MIB + 3])
def test_a_stream_of_any_length_is_stored_whole(storage, tmp_path, length):
    data = os.urandom(length)
    with store.writer(NAME, expected_sha256=hashlib.sha256(data).hexdigest()) as w:
        for start in range(0, length, 3 * MIB):
            w.write(data[start : start + 3 * MIB])
            if storage is not None:
                # Bounded memory: never more than one part waits in the writer.
                assert len(w.buffer) < store.PART
    assert (w.size, w.sha256) == (length, hashlib.sha256(data).hexdigest())
    assert store.size(NAME) == length
    assert hashlib.sha256(store.read_bytes(NAME)).hexdigest() == w.sha256
    assert parts_left(storage, tmp_path) == []


def test_nothing_is_visible_at_the_name_until_the_write_commits(storage):
    with store.writer(NAME) as w:
        w.write(os.urandom(9 * MIB))  # on S3: one part already uploaded
        assert not store.exists(NAME)
    assert store.exists(NAME)


@pytest.mark.parametrize("length", [100, 17 * MIB])
def test_an_error_inside_the_write_leaves_nothing(storage, tmp_path, length):
    with pytest.raises(RuntimeError), store.writer(NAME) as w:
        w.write(os.urandom(length))
        raise RuntimeError("the download broke")
    assert not store.exists(NAME)
    assert parts_left(storage, tmp_path) == []


@pytest.mark.parametrize("length", [100, 17 * MIB])
def test_a_checksum_mismatch_leaves_nothing(storage, tmp_path, length):
    with pytest.raises(store.ChecksumMismatch), store.writer(NAME, expected_sha256="0" * 64) as w:
        w.write(os.urandom(length))
    assert not store.exists(NAME)
    assert parts_left(storage, tmp_path) == []


def test_a_rewrite_replaces_the_stored_file_whole(storage):
    store.save_bytes(NAME, b"first")
    with pytest.raises(store.ChecksumMismatch), store.writer(NAME, expected_sha256="0" * 64) as w:
        w.write(b"second")
    assert store.read_bytes(NAME) == b"first"
    store.save_bytes(NAME, b"third")
    assert store.read_bytes(NAME) == b"third"


def test_names_that_could_escape_are_refused(storage):
    for name in ["", "/etc/passwd", "../x", "1/../../x", "a\\b", "a\x00b"]:
        with pytest.raises(ValueError):
            store.writer(name).__enter__()
        with pytest.raises(ValueError):
            store.read_bytes(name)


def test_local_storage_has_no_presigned_urls(local_storage):
    store.save_bytes(NAME, b"x")
    assert store.presigned_url(NAME) is None


def test_a_presigned_url_serves_the_object_then_expires(s3_storage, settings):
    settings.PORTAL_STORAGE_URL_SECONDS = 1
    data = os.urandom(2000)
    store.save_bytes(NAME, data)
    url = store.presigned_url(NAME, filename="Liver scan é.mp4")
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.content == data
    assert answer.headers["Content-Type"] == "video/mp4"
    assert 'filename="Liver scan _.mp4"' in answer.headers["Content-Disposition"]
    # Byte ranges are the store's business too.
    ranged = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert (ranged.status_code, ranged.content) == (206, data[10:20])
    time.sleep(2.5)
    assert requests.get(url, timeout=10).status_code == 403


def test_the_bucket_refuses_unsigned_and_tampered_requests(s3_storage, s3_server):
    if s3_server.kind != "seaweedfs":
        pytest.skip("moto's server does not check signatures")
    client, bucket = s3_storage
    store.save_bytes(NAME, b"private")
    assert requests.get(f"{s3_server.endpoint}/{bucket}/{NAME}", timeout=10).status_code == 403
    url = store.presigned_url(NAME)
    assert requests.get(url.replace("001.mp4", "002.mp4"), timeout=10).status_code == 403


def test_the_sweep_removes_only_abandoned_partial_writes_locally(local_storage, settings):
    folder = settings.PORTAL_MEDIA_ROOT / "1" / "exam"
    folder.mkdir(parents=True)
    old, fresh = folder / ".001.mp4.abc.part", folder / ".002.mp4.def.part"
    kept = folder / "003.mp4"
    for path in (old, fresh, kept):
        path.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(kept, (two_hours_ago, two_hours_ago))
    assert store.sweep_partials() == 1
    assert not old.exists() and fresh.exists() and kept.exists()


def test_the_sweep_aborts_abandoned_multipart_uploads(s3_storage, monkeypatch):
    client, bucket = s3_storage
    store.save_bytes("1/kept.mp4", b"kept")
    client.create_multipart_upload(Bucket=bucket, Key="1/dead.mp4")
    assert store.sweep_partials() == 0  # started just now: a live writer's
    assert len(uploads(s3_storage)) == 1
    monkeypatch.setattr(store, "PARTIAL_AGE", timedelta(seconds=-120))
    assert store.sweep_partials() == 1
    assert uploads(s3_storage) == []
    assert store.read_bytes("1/kept.mp4") == b"kept"


def test_the_sweep_is_a_schedule():
    from portal.work import schedules

    assert schedules.registered()["storage: sweep abandoned partial writes"] == (
        "portal.storage.sweep_partials",
        store.SWEEP_MINUTES,
    )


WRITER = """
import sys, time, django
django.setup()
from portal import storage

with storage.writer(sys.argv[1]) as w:
    for i in range(64):
        w.write(b"x" * 1024 * 1024)
        if i == 20:
            print("half-way", flush=True)
            time.sleep(60)
"""


def test_a_writer_killed_half_way_leaves_no_stored_file(storage, settings, tmp_path, request):
    import signal
    import subprocess
    import sys

    from tests.subprocesses import ROOT

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    env["PORTAL_MEDIA_ROOT"] = str(settings.PORTAL_MEDIA_ROOT)
    if storage is not None:
        server, bucket = request.getfixturevalue("s3_server"), storage[1]
        env.update(
            PORTAL_STORAGE_URL=server.storage_url(bucket),
            PORTAL_STORAGE_ACCESS_KEY_ID=server.access_key,
            PORTAL_STORAGE_SECRET_ACCESS_KEY=server.secret_key,
        )
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, NAME], env=env, cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout.readline() == b"half-way\n"
        assert len(parts_left(storage, tmp_path)) == 1  # staged: a .part or an upload
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert not store.exists(NAME)
    # The next attempt clears what the dead one staged, and completes.
    assert store.abort_partials("1/exam/request/001.") == 1
    store.save_bytes(NAME, b"whole")
    assert store.read_bytes(NAME) == b"whole"
    assert parts_left(storage, tmp_path) == []


def test_a_prefix_in_the_url_keeps_every_object_under_it(s3_server, s3_bucket, settings):
    from tests.storage.conftest import _reset_storages, s3_storages

    settings.STORAGES = s3_storages(s3_server, f"{s3_bucket}/site-a")
    _reset_storages()
    try:
        client = s3_server.client()
        with store.writer(NAME) as w:
            w.write(os.urandom(9 * MIB))
        store.save_bytes("1/exam/request/001.thumb.jpg", b"thumb")
        keys = {i["Key"] for i in client.list_objects_v2(Bucket=s3_bucket)["Contents"]}
        assert keys == {f"site-a/{NAME}", "site-a/1/exam/request/001.thumb.jpg"}
        assert (
            requests.get(store.presigned_url(NAME), timeout=10).content[:10]
            == (store.read_bytes(NAME)[:10])
        )
        client.create_multipart_upload(Bucket=s3_bucket, Key=f"site-a/{NAME}")
        client.create_multipart_upload(Bucket=s3_bucket, Key=f"other/{NAME}")
        assert store.abort_partials("1/exam/request/001.") == 1
        store.discard("1/exam/request/001.")
        assert "Contents" not in client.list_objects_v2(Bucket=s3_bucket, Prefix="site-a/")
        (left,) = client.list_multipart_uploads(Bucket=s3_bucket)["Uploads"]
        assert left["Key"] == f"other/{NAME}"  # outside the portal's prefix: not touched
    finally:
        _reset_storages()
