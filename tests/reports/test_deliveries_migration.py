"""The migration that turns each existing version's push to Clarius into its delivery."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = ("reports", "0002_report_generated_by_the_worker")
AFTER = ("reports", "0003_deliveries")


def everything_but_reports_at(node):
    """Every other app at its latest migration that does not need reports past ``node``
    (an app whose first migration does is left unmigrated), reports at ``node``."""
    graph = MigrationExecutor(connection).loader.graph
    allowed = set(graph.forwards_plan(node))

    def fits(candidate):
        return all(n[0] != "reports" or n in allowed for n in graph.forwards_plan(candidate))

    targets = []
    for leaf in graph.leaf_nodes():
        if leaf[0] == "reports":
            continue
        candidate = leaf
        while candidate is not None and not fits(candidate):
            parents = [p for p in graph.node_map[candidate].parents if p.key[0] == leaf[0]]
            candidate = parents[0].key if parents else None
        targets.append(candidate or (leaf[0], None))
    return [*targets, node]


def migrated(node):
    """The same targets, as nodes whose state can be read (the unmigrated apps left out)."""
    return [target for target in everything_but_reports_at(node) if target[1] is not None]


@pytest.mark.django_db(transaction=True)
def test_each_drawn_version_gets_its_clarius_delivery_with_the_push_state():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # forwards first, if anything is due
    executor = MigrationExecutor(connection)
    executor.migrate(everything_but_reports_at(BEFORE))
    old = executor.loader.project_state(migrated(BEFORE)).apps
    Institution = old.get_model("tenants", "Institution")
    Exam = old.get_model("exams", "Exam")
    Submission = old.get_model("exams", "Submission")
    Report = old.get_model("reports", "Report")
    now = timezone.now()
    place = Institution.objects.create(name="Northside", slug="northside-migration")
    exam = Exam.objects.create(
        institution=place, exam_uuid=uuid.uuid4(), first_submitted_at=now, last_submitted_at=now
    )
    submission = Submission.objects.create(
        institution=place,
        exam=exam,
        request_uuid=uuid.uuid4(),
        submitted_at=now,
        download_url="https://cloud.example/x",
    )

    def version(number, state, **fields):
        return Report.objects.create(
            institution=place,
            exam=exam,
            submission=submission,
            version=number,
            name=f"v{number}",
            file=f"v{number}.pdf",
            source="generated",
            state=state,
            **fields,
        )

    pushed = version(1, "pushed", size=10, pushed_at=now, clarius_id="c-1", attempts=1)
    waiting = version(
        2,
        "pending",
        size=10,
        attempts=3,
        last_error="HTTP 503",
        next_attempt_at=now + timedelta(minutes=2),
    )
    failed = version(3, "failed", size=10, attempts=8, last_error="HTTP 400")
    version(4, "generating")  # no PDF yet: its deliveries come when it is drawn
    version(5, "failed", last_error="making the PDF failed")  # never drawn

    executor = MigrationExecutor(connection)
    executor.migrate(everything_but_reports_at(AFTER))
    new = executor.loader.project_state(migrated(AFTER)).apps
    Delivery = new.get_model("reports", "Delivery")
    rows = {d.report_id: d for d in Delivery.objects.all()}
    assert set(rows) == {pushed.pk, waiting.pk, failed.pk}
    assert {d.destination for d in rows.values()} == {"clarius"}
    assert (rows[pushed.pk].state, rows[pushed.pk].remote_id) == ("sent", "c-1")
    assert rows[pushed.pk].sent_at == now
    assert (rows[waiting.pk].state, rows[waiting.pk].attempts) == ("pending", 3)
    assert rows[waiting.pk].next_attempt_at == now + timedelta(minutes=2)
    assert rows[waiting.pk].last_error == "HTTP 503"
    assert (rows[failed.pk].state, rows[failed.pk].last_error) == ("failed", "HTTP 400")
    assert {d.institution_id for d in rows.values()} == {place.pk}

    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
