"""The tallies and the patient sort key the database keeps by trigger (portal.exams.tallies):
always what counting the exam rows says, however the rows were written."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from portal.exams.models import Exam, ExamHour, ExamTally, Patient
from portal.exams.tallies import POSTGRES, SQLITE
from tests.factories import make_exam

pytestmark = pytest.mark.django_db


def counted() -> dict:
    """What the tallies must say: the exam rows grouped, by a plain count."""
    rows = Exam.objects.values(
        "institution_id", "operator_id", "reviewer_id", "review_state", "status"
    ).annotate(n=Count("pk"))
    return {
        (r["institution_id"], r["operator_id"] or 0, r["reviewer_id"] or 0, r["review_state"],
         r["status"]): r["n"]
        for r in rows
    }  # fmt: skip


def tallied() -> dict:
    return {
        (t.institution_id, t.operator_id, t.reviewer_id, t.review_state, t.status): t.n
        for t in ExamTally.objects.filter(n__gt=0)
    }


def hours() -> dict:
    return {
        (h.institution_id, h.operator_id, h.hour): h.n for h in ExamHour.objects.filter(n__gt=0)
    }


def hour_of(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def test_a_new_exam_is_counted_and_a_state_change_moves_it(trio, northside):
    alice, bob, _ = trio
    made = make_exam(northside, alice)
    assert tallied() == counted() == {(northside.pk, alice.pk, 0, "new", "ready"): 1}
    made.review_state = Exam.ReviewState.IN_REVIEW
    made.reviewer = bob
    made.save()
    assert tallied() == counted() == {(northside.pk, alice.pk, bob.pk, "in_review", "ready"): 1}
    Exam.objects.filter(pk=made.pk).update(review_state="signed", status="incomplete")
    assert tallied() == counted()
    made.save()  # a stale instance written back: the tallies follow the row again
    assert tallied() == counted() == {(northside.pk, alice.pk, bob.pk, "in_review", "ready"): 1}


def test_deletes_and_a_purged_institution_leave_nothing_counted(trio, northside, southside):
    alice, bob, charlie = trio
    kept = make_exam(southside, charlie)
    gone = [make_exam(northside, alice) for _ in range(3)]
    gone[0].delete()
    assert tallied() == counted()
    Exam.objects.filter(pk=gone[1].pk).delete()
    assert tallied() == counted()
    northside.delete()  # the cascade deletes the rest
    assert tallied() == counted() == {(southside.pk, charlie.pk, 0, "new", "ready"): 1}
    assert hours() == {
        (southside.pk, 0, hour_of(kept.first_submitted_at)): 1,
        (southside.pk, charlie.pk, hour_of(kept.first_submitted_at)): 1,
    }


def test_a_deleted_user_moves_their_exams_to_no_operator_and_no_reviewer(trio, northside):
    alice, bob, _ = trio
    make_exam(northside, alice, reviewer=bob, review_state="in_review")
    bob.delete()
    assert tallied() == counted() == {(northside.pk, alice.pk, 0, "in_review", "ready"): 1}


def test_the_hours_count_first_submissions_for_the_institution_and_the_operator(trio, northside):
    alice, bob, _ = trio
    now = timezone.now()
    early = now - timedelta(days=2)
    make_exam(northside, alice, submitted_at=early)
    make_exam(northside, alice, submitted_at=now)
    made = make_exam(northside, None, submitted_at=now)
    assert hours() == {
        (northside.pk, 0, hour_of(early)): 1,
        (northside.pk, alice.pk, hour_of(early)): 1,
        (northside.pk, 0, hour_of(now)): 2,
        (northside.pk, alice.pk, hour_of(now)): 1,
    }
    Exam.objects.filter(pk=made.pk).update(operator=bob, first_submitted_at=early)
    assert hours() == {
        (northside.pk, 0, hour_of(early)): 2,
        (northside.pk, alice.pk, hour_of(early)): 1,
        (northside.pk, bob.pk, hour_of(early)): 1,
        (northside.pk, 0, hour_of(now)): 1,
        (northside.pk, alice.pk, hour_of(now)): 1,
    }


def sort_key(made) -> str:
    return Exam.objects.values_list("patient_sort", flat=True).get(pk=made.pk)


def test_the_patient_sort_key_follows_the_patient(trio, northside):
    made = make_exam(northside, trio[0], patient_name="Ada Lovelace")
    assert sort_key(made) == "lovelace ada"
    Patient.objects.filter(exam=made).update(first_name="", last_name="", animal_name="Rex")
    assert sort_key(made) == "rex"
    patient = Patient.objects.get(exam=made)
    patient.last_name = "Zed"
    patient.save()
    assert sort_key(made) == "zed  rex"
    made.save()  # an exam instance read before: its stale key is not kept
    assert sort_key(made) == "zed  rex"
    patient.delete()
    assert sort_key(made) == ""


def test_every_trigger_is_installed():
    # SQLite drops a table's triggers when a migration rebuilds the table (they are made
    # again after every migrate); PostgreSQL keeps them. Either way all must be there.
    statements = {"sqlite": SQLITE, "postgresql": POSTGRES}[connection.vendor]
    query = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
        "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(query)
        names = {row[0] for row in cursor.fetchall()}
    wanted = {s.split()[2] for s in statements if s.lstrip().startswith("CREATE TRIGGER")}
    assert wanted and wanted <= names
