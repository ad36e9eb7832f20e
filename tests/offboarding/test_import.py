"""import_institution: the end-to-end restore into a fresh portal (a child process on a
new SQLite file, or a new PostgreSQL database, with its own media folder or bucket),
compared with the source by exporting it again; and an import beside other data, where
every number is taken and the rows are renumbered."""

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from portal import storage as stored
from portal.exams.models import AuditEvent, Capture, Exam, Submission
from portal.outbound.models import Destination
from portal.qa.models import QAReview
from portal.reports.models import Addendum, Findings, Report
from portal.tenants.models import Institution, Membership
from tests.subprocesses import ROOT, clean_env


def contents(path):
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def rows(found, name):
    return [json.loads(line) for line in found[name].splitlines()]


@pytest.fixture
def fresh_database(tmp_path):
    """A database of the test run's own kind that has never seen the portal."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    import psycopg

    s = connection.settings_dict
    name = f"offboard_{uuid.uuid4().hex[:12]}"
    admin = dict(host=s["HOST"], port=s["PORT"], user=s["USER"], password=s["PASSWORD"])
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def child_storage(request, tmp_path):
    """The fresh portal's storage: a folder of its own, or a bucket of its own on the
    same S3 server as the source's."""
    if "s3_server" not in request.fixturenames:
        return {"PORTAL_MEDIA_ROOT": str(tmp_path / "fresh-media")}
    server = request.getfixturevalue("s3_server")
    bucket = f"fresh-{uuid.uuid4().hex[:12]}"
    client = server.client()
    client.create_bucket(Bucket=bucket)
    request.addfinalizer(lambda: _drop_bucket(client, bucket))
    return {
        "PORTAL_STORAGE_URL": server.storage_url(bucket),
        "PORTAL_STORAGE_ACCESS_KEY_ID": server.access_key,
        "PORTAL_STORAGE_SECRET_ACCESS_KEY": server.secret_key,
    }


def _drop_bucket(client, bucket):
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


def stored_names():
    root = stored.local_root()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# The fresh portal's side, in one child process: migrate, import, export again, verify
# the new archive and the audit chain, and try the import a second time.
CHILD = """
import io, json, sys, django
django.setup()
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError

def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()

first, second = sys.argv[1], sys.argv[2]
run("migrate", "--noinput")
result = {"import": run("import_institution", first)}
run("export_institution", "northside", second)
result["verify"] = run("verify_export", second)
result["chain"] = None
if "verify_audit_chain" in get_commands():
    result["chain"] = run("verify_audit_chain", "--institution", "northside")
try:
    run("import_institution", first)
    result["again"] = "imported twice"
except CommandError as e:
    result["again"] = str(e)
print(json.dumps(result))
"""


def in_child(env, *args):
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_restore_into_a_fresh_portal_is_the_same_institution(
    storage, world, tmp_path, fresh_database, child_storage
):
    first = tmp_path / "first.tar"
    call_command("export_institution", "northside", str(first), stdout=io.StringIO())
    second = tmp_path / "second.tar"
    env = clean_env(tmp_path, DATABASE_URL=fresh_database, **child_storage)
    out = in_child(env, str(first), str(second))
    assert "Imported northside" in out["import"] and "2 created inactive" in out["import"]
    assert "Renumbered" not in out["import"]
    assert "sound" in out["verify"]
    if out["chain"] is not None:
        assert "intact" in out["chain"], out["chain"]
    assert "already here" in out["again"]
    a, b = contents(first), contents(second)
    manifest = json.loads(a["manifest.json"])
    for label, entry in manifest["records"].items():
        before, after = rows(a, entry["path"]), rows(b, entry["path"])
        if label == "exams.AuditEvent":
            # The second export is itself an event of the log, chained after the others.
            assert after[: len(before)] == before and len(after) == len(before) + 1
        elif label in ("accounts.User", "outbound.Destination"):
            assert [{**r, "is_active": None} for r in after] == [
                {**r, "is_active": None} for r in before
            ]
            assert not any(r["is_active"] for r in after)
        else:
            assert after == before, label
    files = {p: hashlib.sha256(d).hexdigest() for p, d in a.items() if p.startswith("files/")}
    assert files and files == {
        p: hashlib.sha256(d).hexdigest() for p, d in b.items() if p.startswith("files/")
    }
    assert not [p for p in b if b"Southgate" in b[p]]


@pytest.mark.django_db
def test_import_beside_other_data_renumbers_everything_consistently(local_storage, world, tmp_path):
    archive = tmp_path / "northside.tar"
    call_command("export_institution", "northside", str(archive), stdout=io.StringIO())
    old = Institution.objects.get(slug="northside")
    # The same portal, its Northside renamed: every number the archive holds is taken.
    Institution.objects.filter(pk=old.pk).update(slug="northside-old", name="Old Northside")
    for submission in Submission.objects.filter(institution=old):
        Submission.objects.filter(pk=submission.pk).update(request_uuid=uuid.uuid4())
    out = io.StringIO()
    call_command("import_institution", str(archive), stdout=out)
    assert "Renumbered" in out.getvalue() and "2 matched" in out.getvalue()
    new = Institution.objects.get(slug="northside")
    assert new.pk != old.pk
    exam = Exam.objects.get(institution=new)
    source = Exam.objects.get(institution=old)
    assert exam.exam_uuid == source.exam_uuid and exam.pk != source.pk
    assert exam.patient.last_name == "Northwind" and exam.reviewer.email == "bob@example.org"
    assert exam.exam_type.institution_id == new.pk
    first, second = Capture.objects.filter(exam=exam).order_by("position")
    assert second.duplicate_of_id == first.pk
    assert first.file.startswith(f"{new.pk}/") and first.thumbnail.startswith(f"{new.pk}/")
    for capture in (first, second):
        assert hashlib.sha256(stored.read_bytes(capture.file)).hexdigest() == capture.sha256
    assert stored.read_bytes(first.thumbnail) == b"thumbnail of north"
    findings = Findings.objects.get(exam=exam)
    assert findings.key_images == {str(first.pk): "key image north"}
    assert findings.template.exam_type.institution_id == new.pk
    assert list(Addendum.objects.get(exam=exam).captures.all()) == [second]
    report = Report.objects.get(exam=exam)
    assert report.file.startswith(f"{new.pk}/")
    assert hashlib.sha256(stored.read_bytes(report.file)).hexdigest() == report.sha256
    assert report.deliveries.get().state == "sent"
    assert QAReview.objects.get(exam=exam).assignee.email == "bob@example.org"
    assert not Destination.objects.get(institution=new).is_active
    assert not Destination.objects.get(institution=new).secret_encrypted
    assert set(Membership.objects.filter(institution=new).values_list("user__email", "role")) == {
        ("alice@example.org", "admin"),
        ("bob@example.org", "reviewer"),
    }
    events = AuditEvent.objects.filter(institution=new)
    assert events.count() == AuditEvent.objects.filter(institution=old).count()
    assert set(events.values_list("seq", "hash")) == set(
        AuditEvent.objects.filter(institution=old).values_list("seq", "hash")
    )
    # The old Northside is untouched.
    assert Capture.objects.filter(exam=source).count() == 2
    assert stored.exists(Capture.objects.filter(exam=source).first().file)


@pytest.mark.django_db
def test_an_institution_already_here_is_refused_and_nothing_is_written(
    local_storage, world, tmp_path
):
    archive = tmp_path / "northside.tar"
    call_command("export_institution", "northside", str(archive), stdout=io.StringIO())
    counts = Institution.objects.count(), Exam.objects.count()
    with pytest.raises(CommandError, match="already here"):
        call_command("import_institution", str(archive), stdout=io.StringIO())
    Institution.objects.filter(slug="northside").update(slug="elsewhere")
    with pytest.raises(CommandError, match="named 'Northside Clinic' is already here"):
        call_command("import_institution", str(archive), stdout=io.StringIO())
    assert (Institution.objects.count(), Exam.objects.count()) == counts


@pytest.mark.django_db
def test_a_failed_import_leaves_neither_rows_nor_files(local_storage, world, tmp_path):
    """The files are written last, inside the transaction: one that cannot be written
    (its name is taken) undoes the rows and the files already written."""
    archive = tmp_path / "northside.tar"
    call_command("export_institution", "northside", str(archive), stdout=io.StringIO())
    old = Institution.objects.get(slug="northside")
    Institution.objects.filter(pk=old.pk).update(slug="northside-old", name="Old Northside")
    for submission in Submission.objects.filter(institution=old):
        Submission.objects.filter(pk=submission.pk).update(request_uuid=uuid.uuid4())
    # The next institution number's folder already holds the report's name.
    report = Report.objects.get(institution=old)
    next_number = Institution.objects.order_by("-pk").first().pk + 1
    taken = f"{next_number}/" + report.file.split("/", 1)[1]
    stored.save_bytes(taken, b"someone else's")
    names_before = stored_names()
    counts = Institution.objects.count(), Exam.objects.count(), AuditEvent.objects.count()
    with pytest.raises(CommandError, match="already exists here"):
        call_command("import_institution", str(archive), stdout=io.StringIO())
    assert (Institution.objects.count(), Exam.objects.count(), AuditEvent.objects.count()) == counts
    assert stored.read_bytes(taken) == b"someone else's"
    assert stored_names() == names_before


@pytest.mark.django_db
def test_rows_this_database_refuses_undo_the_whole_import(local_storage, world, tmp_path):
    """The same submissions (Clarius request ids are unique across the portal) already
    here: the insert fails, the transaction is undone, the files written are removed."""
    archive = tmp_path / "northside.tar"
    call_command("export_institution", "northside", str(archive), stdout=io.StringIO())
    Institution.objects.filter(slug="northside").update(slug="old", name="Old Northside")
    names_before = stored_names()
    counts = Institution.objects.count(), Exam.objects.count(), AuditEvent.objects.count()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_institution", str(archive), stdout=io.StringIO())
    assert (Institution.objects.count(), Exam.objects.count(), AuditEvent.objects.count()) == counts
    assert stored_names() == names_before
