"""The retention purge: exactly the media the policy names, on local files and on S3."""

import io
import time

import pytest
from django.core.management import CommandError, call_command

from portal import storage
from portal.exams.models import AuditEvent, Capture, Exam
from portal.retention import purge
from portal.retention.models import MediaPurge
from tests.retention import build

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("purge_media", *args, stdout=out)
    return out.getvalue()


def files_of(built):
    return [c.file for c in built.captures], [c.thumbnail for c in built.captures]


def test_a_thousand_exams_lose_exactly_the_media_the_policy_names(storage, northside, southside):
    started = time.monotonic()
    southside.media_retention_days = 30
    southside.save()
    # Southside: 1,000 exams. Due: signed 40 days ago (some with a resubmission's
    # duplicate sharing the file, some with a report). Kept: signed 10 days ago,
    # unsigned, a trainee's signature awaiting attestation.
    due = build.exams(southside, 350, signed_days_ago=40, report=True, patient_name="Pat Secret")
    dupes = build.exams(southside, 50, signed_days_ago=40, duplicate=True)
    recent = build.exams(southside, 200, signed_days_ago=10)
    unsigned = build.exams(southside, 300, signed_days_ago=None)
    prelim = build.exams(
        southside, 100, signed_days_ago=40, review_state=Exam.ReviewState.PRELIMINARY
    )
    # Northside keeps media for ever: its exams signed long ago are never touched.
    north = build.exams(northside, 30, signed_days_ago=400, report=True)
    assert Exam.objects.filter(institution=southside).count() == 1000
    audits_before = AuditEvent.objects.count()
    built_at = time.monotonic()
    output = run()
    purged_at = time.monotonic()
    print(f"built {built_at - started:.1f} s, purged {purged_at - built_at:.1f} s")
    assert "400 exam(s) due; 400 done" in output

    present = stored_names(storage)
    for built in (due, dupes):
        ids = [c.pk for c in built.captures]
        assert Capture.objects.filter(
            pk__in=ids, media_purged_at__isnull=False, file=""
        ).count() == len(ids)
        media, thumbs = files_of(built)
        assert not present & set(media)
        assert set(thumbs) <= present  # thumbnails kept
    assert {r.file for r in due.reports} <= present  # reports kept
    for built in (recent, unsigned, prelim, north):
        media, thumbs = files_of(built)
        assert set(media + thumbs) <= present
        assert not Capture.objects.filter(
            pk__in=[c.pk for c in built.captures], media_purged_at__isnull=False
        ).exists()
    assert {r.file for r in north.reports} <= present
    assert not MediaPurge.objects.filter(institution=northside).exists()

    # Audited: one event per exam, no user, counts and bytes, no patient name.
    events = AuditEvent.objects.filter(action=purge.PURGE_ACTION)
    assert AuditEvent.objects.count() - audits_before == events.count() == 400
    assert set(events.values_list("institution", flat=True)) == {southside.pk}
    assert not events.filter(user__isnull=False).exists()
    one = events.get(object_id=str(due.exams[0].pk))
    assert one.object_type == "exam"
    assert one.detail["captures"] == 1 and one.detail["files"] == 1
    assert one.detail["bytes"] == len(build.MEDIA) and one.detail["retention_days"] == 30
    assert "Secret" not in str(one.detail) and "Pat" not in str(one.detail)
    # A duplicate shares its original's file: two captures, one file, its bytes once.
    two = events.get(object_id=str(dupes.exams[0].pk))
    assert two.detail["captures"] == 2 and two.detail["files"] == 1
    assert two.detail["bytes"] == len(build.MEDIA)

    # Done is done: another run finds nothing and writes nothing.
    assert "0 exam(s) due; none run" in run()
    assert AuditEvent.objects.filter(action=purge.PURGE_ACTION).count() == 400
    print(f"1,000 exams built, purged and checked in {time.monotonic() - started:.1f} s")


def stored_names(s3) -> set[str]:
    """Every stored file's name, read from the store itself: the local folder, or the
    bucket's listing on the S3 server (``s3``: the fixture's client and bucket)."""
    if s3 is None:
        root = storage.local_root()
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    client, bucket = s3
    keys = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.update(item["Key"] for item in page.get("Contents", []))
    prefix = storage.s3_key("x")[:-1]  # the bucket's prefix, if the URL names one
    return {key.removeprefix(prefix) for key in keys}


def test_a_dry_run_changes_nothing(local_storage, southside):
    southside.media_retention_days = 1
    southside.save()
    built = build.exams(southside, 5, signed_days_ago=3)
    output = run("--dry-run")
    assert f"{southside.slug}: 5 exam(s), 5 capture(s), {5 * len(build.MEDIA)} bytes" in output
    assert "nothing was changed" in output
    assert not MediaPurge.objects.exists()
    assert not Capture.objects.filter(media_purged_at__isnull=False).exists()
    assert all(storage.exists(c.file) for c in built.captures)
    assert not AuditEvent.objects.filter(action=purge.PURGE_ACTION).exists()


def test_one_institution_only(local_storage, northside, southside):
    for inst in (northside, southside):
        inst.media_retention_days = 1
        inst.save()
    north = build.exams(northside, 3, signed_days_ago=5)
    south = build.exams(southside, 3, signed_days_ago=5)
    assert "3 exam(s) due; 3 done" in run("--institution", southside.slug)
    assert all(storage.exists(c.file) for c in north.captures)
    assert not any(storage.exists(c.file) for c in south.captures)
    with pytest.raises(CommandError, match="No institution"):
        run("--institution", "no-such-place")


def test_never_purges_nothing(local_storage, southside):
    built = build.exams(southside, 3, signed_days_ago=9000)
    assert southside.media_retention_days is None
    assert "0 exam(s) due" in run()
    assert all(storage.exists(c.file) for c in built.captures)


def test_a_file_already_gone_counts_as_removed(local_storage, southside):
    southside.media_retention_days = 1
    southside.save()
    built = build.exams(southside, 1, signed_days_ago=2, captures=3)
    storage.delete(built.captures[1].file)  # a purge killed after its delete
    run()
    row = MediaPurge.objects.get()
    assert row.state == MediaPurge.State.DONE
    assert row.captures_purged == 3 and row.files_deleted == 3
    assert Capture.objects.filter(media_purged_at__isnull=False).count() == 3


def test_a_policy_switched_off_before_the_purge_runs_skips_it(local_storage, southside):
    southside.media_retention_days = 1
    southside.save()
    built = build.exams(southside, 2, signed_days_ago=2)
    purge.plan_purges(nudge=False)
    southside.media_retention_days = None
    southside.save()
    for row in MediaPurge.objects.all():
        assert purge.purge_exam(row.pk) == MediaPurge.State.SKIPPED
    assert all(storage.exists(c.file) for c in built.captures)
    assert not AuditEvent.objects.filter(action=purge.PURGE_ACTION).exists()


def test_a_capture_arriving_after_the_purge_is_purged_by_the_next(local_storage, southside):
    southside.media_retention_days = 1
    southside.save()
    built = build.exams(southside, 1, signed_days_ago=2)
    run()
    exam = built.exams[0]
    late = Capture.objects.create(
        institution=southside,
        exam=exam,
        submission=exam.submissions.get(),
        position=5,
        source_url="https://example.invalid/",
        state=Capture.State.DONE,
        content_type="image/jpeg",
        file=f"{southside.pk}/{exam.exam_uuid}/late.jpg",
        size=10,
    )
    name = late.file
    storage.save_bytes(name, b"0123456789")
    assert "1 exam(s) due; 1 done" in run()
    late.refresh_from_db()
    assert late.media_purged_at is not None and not storage.exists(name)
    details = [e.detail for e in AuditEvent.objects.filter(action=purge.PURGE_ACTION)]
    assert sorted(d["captures"] for d in details) == [1, 1]  # each run its own counts


def test_a_file_another_exam_still_needs_is_kept(local_storage, southside, northside):
    southside.media_retention_days = 1
    southside.save()
    gone = build.exams(southside, 1, signed_days_ago=2)
    kept = build.exams(northside, 1, signed_days_ago=None)
    # Two exams' captures naming one stored file outside either exam's folder (never
    # made by ingestion, which shares files only within an exam's folder; media placed
    # by hand or an older release): the purge must not break the kept exam.
    shared = "legacy/shared.jpg"
    storage.save_bytes(shared, build.MEDIA)
    Capture.objects.filter(pk__in=[gone.captures[0].pk, kept.captures[0].pk]).update(file=shared)
    run()
    assert storage.exists(shared)
    row = MediaPurge.objects.get()
    assert row.captures_purged == 1 and row.files_deleted == 0
    assert Capture.objects.get(pk=gone.captures[0].pk).media_purged_at is not None
    assert Capture.objects.get(pk=kept.captures[0].pk).file == shared


def test_the_daily_schedule_is_registered():
    from portal.work import registry, schedules

    assert "retention: purge due media" in schedules.registered()
    assert registry.kind_of(MediaPurge).task is purge.purge_exam


def test_the_schedule_plans_and_the_worker_purges(
    local_storage, southside, django_capture_on_commit_callbacks
):
    """``plan_purges`` queues each row's task (run at once here: tasks run in-process)."""
    southside.media_retention_days = 1
    southside.save()
    built = build.exams(southside, 4, signed_days_ago=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert purge.plan_purges() == 4
    assert set(MediaPurge.objects.values_list("state", flat=True)) == {MediaPurge.State.DONE}
    assert not any(storage.exists(c.file) for c in built.captures)


def test_superusers_see_the_purges_in_the_admin(client, local_storage, southside):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    southside.media_retention_days = 1
    southside.save()
    build.exams(southside, 2, signed_days_ago=2, patient_name="Pat Secret")
    run()
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    page = client.get(reverse("admin:retention_mediapurge_changelist"))
    assert page.status_code == 200
    assert page.context["cl"].result_count == 2
    one = MediaPurge.objects.first()
    detail = client.get(reverse("admin:retention_mediapurge_change", args=[one.pk]))
    assert detail.status_code == 200
