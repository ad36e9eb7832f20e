"""Export and verify: the whole of one institution, nothing of another, no secrets."""

import io
import json
import tarfile

import pytest
from django.core.management import call_command

from portal import storage as stored
from portal.exams.models import Capture
from portal.reports.models import Report


def export(tmp_path, slug="northside"):
    path = tmp_path / f"{slug}.tar"
    out = io.StringIO()
    call_command("export_institution", slug, str(path), stdout=out, stderr=io.StringIO())
    return path, out.getvalue()


def members(path):
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def records(path, label):
    data = members(path)[f"records/{label.lower()}.jsonl"]
    return [json.loads(line) for line in data.splitlines()]


@pytest.mark.django_db
def test_export_holds_every_kind_of_record_and_file_and_verifies(storage, world, tmp_path):
    path, out = export(tmp_path)
    assert "Exported northside" in out
    found = members(path)
    manifest = json.loads(found["manifest.json"])
    assert manifest["institution"]["slug"] == "northside"
    listed = {e["path"]: e for e in manifest["files"]}
    assert set(listed) == set(found) - {"manifest.json"}
    exam = world["north"]
    for capture in Capture.objects.filter(exam=exam):
        assert found[f"files/{capture.file}"] == stored.read_bytes(capture.file)
    thumbnail = Capture.objects.get(exam=exam, position=0).thumbnail
    assert found[f"files/{thumbnail}"] == b"thumbnail of north"
    report = Report.objects.get(exam=exam)
    assert f"files/{report.file}" in found
    for label in (
        "tenants.Membership", "exams.Exam", "exams.Patient", "exams.Submission",
        "exams.Capture", "reports.Findings", "reports.Addendum", "reports.Addendum_captures",
        "reports.Report", "reports.Delivery", "qa.QAReview", "qa.Credential", "qa.Outcome",
        "worksheets.ExamType", "worksheets.WorksheetTemplate", "outbound.Destination",
        "outbound.Transmission", "exams.AuditEvent",
    ):  # fmt: skip
        assert records(path, label), label
    events = records(path, "exams.AuditEvent")
    assert all({"seq", "hash", "at", "detail", "ip_address"} <= set(e) for e in events)
    assert {e["action"] for e in events} >= {"view_exam", "open_media", "export_institution"}
    users = records(path, "accounts.User")
    assert {u["email"] for u in users} == {"alice@example.org", "bob@example.org"}
    assert all("password" not in u for u in users)
    out = io.StringIO()
    call_command("verify_export", str(path), stdout=out)
    assert "sound" in out.getvalue()


@pytest.mark.django_db
def test_nothing_of_the_other_institution_and_no_secrets(local_storage, world, tmp_path):
    from django.contrib.auth import get_user_model

    from portal.outbound.models import Destination
    from portal.tenants.models import Institution

    path, _ = export(tmp_path)
    blob = path.read_bytes()
    south = Institution.objects.get(slug="southside")
    for text in (
        "Southside", "southside", "Southgate", "charlie@example.org", "Findings south",
        "Report south", "QA note south", "credential south", "thumbnail of south",
        "report of south", f"files/{south.pk}/", "CUSTOMER-TOKEN", "destination-secret",
    ):  # fmt: skip
        assert text.encode() not in blob, text
    for user in get_user_model().objects.all():
        assert user.password.encode() not in blob
    for destination in Destination.objects.all():
        assert destination.secret_encrypted.encode() not in blob
    from portal.api.models import ApiKey

    for key in ApiKey.objects.all():
        # (Its public prefix is in the audit log's "created an API key" event, by design.)
        assert key.secret_hash.encode() not in blob
    manifest = json.loads(members(path)["manifest.json"])
    assert "api.ApiKey" in manifest["left_out"] and manifest["notes"]
    # alice is a member of both: only her Northside membership (admin) goes.
    emails = {u["id"]: u["email"] for u in records(path, "accounts.User")}
    assert sorted(
        (emails[m["user_id"]], m["role"]) for m in records(path, "tenants.Membership")
    ) == [
        ("alice@example.org", "admin"),
        ("bob@example.org", "reviewer"),
    ]
    rows = [r for label in manifest["records"] for r in records(path, label)]
    assert {r["institution_id"] for r in rows if "institution_id" in r} == {
        Institution.objects.get(slug="northside").pk
    }


@pytest.mark.django_db
def test_southside_exported_alone_names_none_of_northside(local_storage, world, tmp_path):
    path, _ = export(tmp_path, "southside")
    blob = path.read_bytes()
    for text in ("Northwind", "Findings north", "bob@example.org", "report of north"):
        assert text.encode() not in blob, text


@pytest.mark.django_db
def test_an_unknown_slug_or_folder_is_a_clear_error(local_storage, world, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no institution"):
        call_command("export_institution", "nowhere", str(tmp_path / "x.tar"))
    with pytest.raises(CommandError, match="no such folder"):
        call_command("export_institution", "northside", str(tmp_path / "no" / "x.tar"))
    assert list(tmp_path.iterdir()) == [tmp_path / "media"] or not list(tmp_path.glob("*.tar"))


@pytest.mark.django_db
def test_a_missing_stored_file_is_listed_as_absent(local_storage, world, tmp_path):
    capture = Capture.objects.filter(exam=world["north"]).order_by("position").last()
    stored.delete(capture.file)
    path, out = export(tmp_path)
    manifest = json.loads(members(path)["manifest.json"])
    assert [a["name"] for a in manifest["absent_files"]] == [capture.file]
    call_command("verify_export", str(path), stdout=io.StringIO())


@pytest.mark.django_db
def test_the_plan_covers_every_tenant_owned_model():
    from portal.offboarding import plan

    assert plan.unclassified() == []
    assert plan.check() == []


@pytest.mark.django_db
def test_media_is_streamed_in_bounded_memory(local_storage, world, tmp_path):
    """A 24 MiB clip goes through export, verify and import a chunk at a time."""
    import os
    import tracemalloc
    import uuid

    from portal.exams.models import Submission
    from portal.tenants.models import Institution
    from tests.factories import add_stored_capture

    big = os.urandom(24 * 1024 * 1024)
    add_stored_capture(world["north"], "video/mp4", big, size=len(big))
    path = tmp_path / "northside.tar"
    steps = {
        "export": lambda: call_command(
            "export_institution", "northside", str(path), stdout=io.StringIO()
        ),
        "verify": lambda: call_command("verify_export", str(path), stdout=io.StringIO()),
    }
    del big
    peaks = {}
    for name, step in steps.items():
        tracemalloc.start()
        step()
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    old = Institution.objects.get(slug="northside")
    Institution.objects.filter(pk=old.pk).update(slug="old", name="Old Northside")
    for submission in Submission.objects.filter(institution=old):
        Submission.objects.filter(pk=submission.pk).update(request_uuid=uuid.uuid4())
    tracemalloc.start()
    call_command("import_institution", str(path), stdout=io.StringIO())
    peaks["import"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert all(peak < 8 * 1024 * 1024 for peak in peaks.values()), peaks


@pytest.mark.django_db
def test_an_interrupted_export_leaves_no_archive(local_storage, world, tmp_path, monkeypatch):
    from portal.offboarding import exporting

    def broken(self, n=-1):
        raise OSError("the disk went away")

    monkeypatch.setattr(exporting._Hashing, "read", broken)
    with pytest.raises(OSError, match="disk went away"):
        call_command("export_institution", "northside", str(tmp_path / "x.tar"))
    assert not [p for p in tmp_path.iterdir() if p.name not in ("media", "scratch")]
    assert not list((tmp_path / "scratch").iterdir())
