"""The tamper-evident audit log (portal.exams.audit_chain): each institution's events are
numbered and hash-chained as they are written, and ``verify_audit_chain`` reports rows
changed, deleted or cut from the end, with their ids."""

import importlib
import threading
from datetime import timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, connections, models
from django.db.models.deletion import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.exams import audit_chain
from portal.exams.models import AuditChainHead, AuditEvent
from portal.tenants.models import Institution

pytestmark = pytest.mark.django_db


def write(institution, user=None, action=AuditEvent.Action.VIEW_EXAM, **detail):
    return AuditEvent.objects.create(
        institution=institution,
        user=user,
        action=action,
        object_type="exam",
        object_id="e-1",
        ip_address="203.0.113.9",
        detail=detail,
    )


def verify(*args):
    """The command's output and exit status."""
    out = StringIO()
    try:
        call_command("verify_audit_chain", *args, stdout=out)
    except CommandError as e:
        return out.getvalue(), e.returncode, str(e)
    return out.getvalue(), 0, ""


def sql(statement, params):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def pk(event):
    """The id as the database compares it (SQLite keeps UUIDs as 32 hex digits)."""
    return AuditEvent._meta.pk.get_db_prep_value(event.pk, connection)


def mixed_writes(trio, northside, southside):
    alice, bob, charlie = trio
    written = []
    for i in range(4):
        written.append(write(northside, alice, page=i))
        written.append(write(northside, bob, AuditEvent.Action.LIST_EXAMS, page=i, q="é"))
        written.append(write(southside, charlie, AuditEvent.Action.OPEN_MEDIA, capture=i))
        written.append(write(southside, alice, AuditEvent.Action.LOGIN))
    return written


def test_each_institution_has_its_own_numbered_chain_and_it_verifies(trio, northside, southside):
    written = mixed_writes(trio, northside, southside)
    for institution in (northside, southside):
        rows = list(AuditEvent.objects.filter(institution=institution).order_by("seq"))
        assert [r.seq for r in rows] == list(range(1, 9))
        previous = audit_chain.GENESIS
        for row in rows:
            assert row.hash == audit_chain.chain_hash(previous, row)
            previous = row.hash
        head = AuditChainHead.objects.get(institution=institution)
        assert (head.seq, head.hash) == (8, rows[-1].hash)
    # What save() hashed is what the database returned: the stored time, to the microsecond.
    stored = {e.pk: (e.at, e.hash, e.seq) for e in AuditEvent.objects.all()}
    assert stored == {e.pk: (e.at, e.hash, e.seq) for e in written}
    out, status, _ = verify()
    assert status == 0
    assert "northside: 8 events, the audit chain is intact" in out
    assert "southside: 8 events, the audit chain is intact" in out
    out, status, _ = verify("--institution", "southside", "--batch", "3")
    assert (status, out.strip()) == (0, "southside: 8 events, the audit chain is intact")


def test_an_institution_without_events_and_an_unknown_slug(northside):
    out, status, _ = verify()
    assert (status, out.strip()) == (0, "northside: 0 events, the audit chain is intact")
    _, status, message = verify("--institution", "nowhere")
    assert status == 1 and "nowhere" in message


@pytest.mark.parametrize(
    "column, value",
    [
        ("detail", '{"page": 99}'),
        ("action", "open_media"),
        ("object_id", "e-2"),
        ("user_id", None),
        ("ip_address", "198.51.100.1"),
    ],
)
def test_a_row_changed_in_the_database_is_reported_with_its_id(
    trio, northside, southside, column, value
):
    written = mixed_writes(trio, northside, southside)
    target = written[4]  # northside, number 3
    sql(f"UPDATE exams_auditevent SET {column} = %s WHERE id = %s", [value, pk(target)])  # noqa: S608
    out, status, message = verify()
    assert status == 1
    assert f"northside: changed: event {target.pk} (number 3) does not match its hash" in out
    assert out.count("changed:") == 1  # the next event still follows the stored hash
    assert "southside: 8 events, the audit chain is intact" in out
    assert "northside: 8 events, 1 finding: the audit chain is broken" in out
    assert "1 institution is broken" in message


def test_a_time_moved_by_a_microsecond_is_reported(trio, northside, southside):
    written = mixed_writes(trio, northside, southside)
    target = written[2]  # southside, number 1
    AuditEvent.objects.filter(pk=target.pk).update(at=target.at + timedelta(microseconds=1))
    out, status, _ = verify("--institution", "southside")
    assert status == 1
    assert f"changed: event {target.pk} (number 1) does not match its hash" in out


def test_a_row_rewritten_with_a_fresh_hash_breaks_the_next_link(trio, northside, southside):
    written = mixed_writes(trio, northside, southside)
    target, after = written[4], written[8]  # northside numbers 3 and 5
    target.detail = {"page": 42}
    forged = audit_chain.chain_hash(
        AuditEvent.objects.get(institution=northside, seq=2).hash, target
    )
    AuditEvent.objects.filter(pk=target.pk).update(detail={"page": 42}, hash=forged)
    out, status, _ = verify("--institution", "northside")
    assert status == 1
    next_event = AuditEvent.objects.get(institution=northside, seq=4)
    assert f"changed: event {next_event.pk} (number 4) does not match its hash" in out
    assert str(target.pk) not in out and str(after.pk) not in out


def test_a_deleted_row_is_a_gap_named_by_the_events_either_side(trio, northside, southside):
    mixed_writes(trio, northside, southside)
    by_seq = {e.seq: e.pk for e in AuditEvent.objects.filter(institution=northside)}
    sql("DELETE FROM exams_auditevent WHERE id = %s", [pk(AuditEvent(pk=by_seq[4]))])
    out, status, _ = verify("--institution", "northside", "--batch", "2")
    assert status == 1
    assert (
        f"northside: gap: number 4 missing (deleted) after event {by_seq[3]} (number 3), "
        f"before event {by_seq[5]} (number 5)"
    ) in out
    assert "changed:" not in out
    # Several in a row, and the first ones.
    AuditEvent.objects.filter(institution=northside, seq__in=[1, 2, 6, 7])._raw_delete("default")
    out, status, _ = verify("--institution", "northside")
    assert "gap: numbers 1 to 2 missing (deleted) at the start, before event" in out
    assert f"gap: numbers 6 to 7 missing (deleted) after event {by_seq[5]} (number 5)" in out
    assert "northside: 3 events, 3 findings" in out


def test_a_truncated_tail_is_reported(trio, northside, southside):
    mixed_writes(trio, northside, southside)
    by_seq = {e.seq: e.pk for e in AuditEvent.objects.filter(institution=southside)}
    AuditEvent.objects.filter(institution=southside, seq__gte=7)._raw_delete("default")
    out, status, _ = verify()
    assert status == 1
    assert (
        f"southside: truncated: the head is at number 8 but the last event is event "
        f"{by_seq[6]} (number 6): numbers 7 to 8 missing from the end"
    ) in out
    AuditEvent.objects.filter(institution=southside)._raw_delete("default")
    out, _, _ = verify("--institution", "southside")
    assert "truncated: the head is at number 8 but the last event is none" in out


def test_a_head_that_does_not_match_and_rows_without_a_number(trio, northside, southside):
    written = mixed_writes(trio, northside, southside)
    AuditChainHead.objects.filter(institution=northside).update(hash="f" * 64)
    AuditChainHead.objects.filter(institution=southside).update(seq=7)
    AuditEvent.objects.filter(pk=written[0].pk).update(seq=None)
    out, status, _ = verify()
    assert status == 1
    assert "northside: head: the head's hash does not match the last event" in out
    assert f"northside: unchained: event {written[0].pk} has no number" in out
    assert "gap: number 1 missing (deleted) at the start" in out
    assert "southside: head: the head is at number 7 but event" in out


def test_events_are_written_once_never_changed_or_deleted(northside, bob):
    event = write(northside, bob)
    event.action = AuditEvent.Action.OPEN_MEDIA
    with pytest.raises(audit_chain.AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(audit_chain.AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(audit_chain.AuditLogIsAppendOnly):
        AuditEvent.objects.bulk_create([AuditEvent(institution=northside, action="login")])
    # A time given by the caller is not kept: an event is stamped when it is written.
    early = timezone.now() - timedelta(days=3)
    late = write_at(northside, early)
    assert late.at > early and AuditEvent.objects.get(pk=late.pk).at == late.at
    # The hash covers the user: a user in the log is deactivated, never deleted.
    with pytest.raises(ProtectedError):
        bob.delete()
    assert verify()[1] == 0


def write_at(institution, at):
    return AuditEvent.objects.create(
        institution=institution, action="login", object_type="user", object_id="1", at=at
    )


def test_deleting_an_institution_takes_its_chain_and_leaves_the_others(trio, northside, southside):
    mixed_writes(trio, northside, southside)
    northside.delete()
    assert not AuditChainHead.objects.filter(institution_id=northside.pk).exists()
    assert verify() == ("southside: 8 events, the audit chain is intact\n", 0, "")


HOSTILE = [
    {"name": "nul\x00byte", "k\x00ey": ["a\x00", {"n": "\ud800lone"}]},
    {"unicode": "Zoë 李 🩺 \u202e321 NRM", "rtl": "\u0645\u0631\u062d\u0628\u0627"},
    {"huge": "x" * 300_000, "deep": [[[[["down"]]]]], "many": list(range(2000))},
    {"numbers": [1, -0.0, 2.0, 1e20, 0.1, 1.5e-7, 2**70, -(2**63)], "nan": float("nan")},
    {"types": [True, False, None, ""], 3: "int key", "tuple": (1, 2)},
]


@pytest.mark.parametrize("detail", HOSTILE, ids=["nul", "unicode", "huge", "numbers", "types"])
def test_hostile_details_are_stored_and_hash_the_same_when_read_back(northside, bob, detail):
    event = write(northside, bob, **{"d": detail})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert "\x00" not in str(stored.detail) and "\ud800" not in str(stored.detail)
    assert audit_chain.chain_hash(audit_chain.GENESIS, stored) == stored.hash == event.hash
    assert verify()[1] == 0


@pytest.mark.parametrize(
    "given, kept",
    [
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("fe80::1", "fe80::1"),
        ("192.0.2.10", "192.0.2.10"),
        ("", None),
        (None, None),
    ],
)
def test_addresses_hash_as_the_database_keeps_them(northside, given, kept):
    event = AuditEvent.objects.create(
        institution=northside, action="login", object_type="user", object_id="1", ip_address=given
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (event.ip_address, stored.ip_address) == (kept, kept)
    assert audit_chain.chain_hash(audit_chain.GENESIS, stored) == stored.hash
    assert verify()[1] == 0


def test_the_backfill_chains_unnumbered_events_in_time_order_in_batches(trio, northside, southside):
    written = mixed_writes(trio, northside, southside)
    # As before the chain existed: no numbers, no hashes, no heads, times out of order.
    AuditEvent.objects.update(seq=None, hash="")
    AuditChainHead.objects.all().delete()
    start = timezone.now() - timedelta(days=1)
    for i, event in enumerate(reversed(written)):
        AuditEvent.objects.filter(pk=event.pk).update(at=start + timedelta(seconds=i // 2))
    assert verify()[1] == 1
    migration = importlib.import_module("portal.exams.migrations.0016_audit_chain_heads")
    schema_editor = SimpleNamespace(connection=connection)
    original = audit_chain.BATCH
    audit_chain.BATCH = 3  # several batches, with equal times across their edges
    try:
        with CaptureQueriesContext(connection) as queries:
            migration.chain_existing_events(apps, schema_editor)
        updates = [q for q in queries if q["sql"].startswith('UPDATE "exams_auditevent"')]
        assert len(updates) == 6  # 8 events an institution: 3 + 3 + 2
    finally:
        audit_chain.BATCH = original
    for institution in (northside, southside):
        rows = list(AuditEvent.objects.filter(institution=institution).order_by("at", "id"))
        assert [r.seq for r in rows] == list(range(1, 9))
    assert verify() == (
        "northside: 8 events, the audit chain is intact\n"
        "southside: 8 events, the audit chain is intact\n",
        0,
        "",
    )
    # Events written since carry on the chain; one written outside it is appended later.
    write(northside, None)
    event = write(southside, None)
    AuditEvent.objects.filter(pk=event.pk).update(seq=None, hash="")
    AuditChainHead.objects.filter(institution=southside).update(
        seq=8, hash=AuditEvent.objects.get(institution=southside, seq=8).hash
    )
    assert "unchained: event" in verify()[0]
    assert audit_chain.backfill(AuditEvent, AuditChainHead, batch=2) == 1
    assert AuditEvent.objects.get(pk=event.pk).seq == 9
    assert verify()[1] == 0


def test_an_institution_created_later_gets_its_head_with_its_first_event(northside):
    later = Institution.objects.create(name="Eastside", slug="eastside")
    assert not AuditChainHead.objects.filter(institution=later).exists()
    write(later)
    write(later)
    assert AuditChainHead.objects.get(institution=later).seq == 2
    assert verify("--institution", "eastside")[1] == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_share_a_number_or_fork_the_chain(trio, northside, southside):
    alice, bob, charlie = trio
    threads, per_thread, errors = 8, 15, []
    barrier = threading.Barrier(threads)

    def writer(n):
        try:
            barrier.wait()
            for i in range(per_thread):
                institution = northside if (n + i) % 3 else southside
                write(institution, alice, thread=n, i=i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    total = AuditEvent.objects.count()
    assert total == threads * per_thread
    for institution in (northside, southside):
        seqs = list(
            AuditEvent.objects.filter(institution=institution)
            .order_by("seq")
            .values_list("seq", flat=True)
        )
        assert seqs == list(range(1, len(seqs) + 1))
        # The numbering follows the time of writing, stamped under the lock.
        ats = list(
            AuditEvent.objects.filter(institution=institution)
            .order_by("seq")
            .values_list("at", flat=True)
        )
        assert ats == sorted(ats)
    assert AuditEvent.objects.aggregate(n=models.Count("seq", distinct=True))["n"] <= total
    out, status, _ = verify()
    assert status == 0, out


@pytest.mark.django_db(transaction=True)
def test_migration_0016_chains_the_events_written_before_it():
    from django.db.migrations.executor import MigrationExecutor

    before, after = ("exams", "0015_audit_chain_media_purged"), ("exams", "0016_audit_chain_heads")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = MigrationExecutor(connection).loader.project_state([before]).apps
    Institution = old.get_model("tenants", "Institution")
    Event = old.get_model("exams", "AuditEvent")
    first = Institution.objects.create(name="Westside", slug="westside")
    second = Institution.objects.create(name="Eastside", slug="eastside")
    Institution.objects.create(name="Quiet", slug="quiet")
    start = timezone.now() - timedelta(days=30)
    made = {}
    for i in range(7):
        for place in (first, second):
            event = Event.objects.create(
                institution=place,
                action="view_exam",
                object_type="exam",
                object_id=str(i),
                ip_address="2001:db8::1" if i % 2 else None,
                detail={"i": i, "name": "Zoë"},
            )
            # Written out of order: the chain follows the time, then the id.
            Event.objects.filter(pk=event.pk).update(at=start + timedelta(hours=(i * 5) % 7))
            made.setdefault(place.slug, []).append(event.pk)
    assert set(Event.objects.values_list("seq", flat=True)) == {None}

    executor = MigrationExecutor(connection)
    executor.migrate([after])
    try:
        for slug in ("westside", "eastside"):
            rows = list(AuditEvent.objects.filter(institution__slug=slug).order_by("at", "id"))
            assert {r.pk for r in rows} == set(made[slug])
            assert [r.seq for r in rows] == list(range(1, 8))
        heads = {
            h.institution.slug: h.seq for h in AuditChainHead.objects.select_related("institution")
        }
        assert heads == {"westside": 7, "eastside": 7, "quiet": 0}
        out, status, _ = verify()
        assert status == 0, out
        assert "westside: 7 events, the audit chain is intact" in out
        assert "quiet: 0 events, the audit chain is intact" in out
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_admin_shows_the_chain_and_changes_nothing(client, northside, bob):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    event = write(northside, bob)
    client.force_login(root)
    listing = client.get(reverse("admin:exams_auditevent_changelist"))
    assert listing.status_code == 200
    page = client.get(reverse("admin:exams_auditevent_change", args=[event.pk]))
    assert page.status_code == 200 and event.hash in page.content.decode()
    refused = client.post(
        reverse("admin:exams_auditevent_change", args=[event.pk]), {"action": "open_media"}
    )
    assert refused.status_code == 403
    assert client.post(reverse("admin:exams_auditevent_delete", args=[event.pk])).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "view_exam"
    assert verify()[1] == 0
