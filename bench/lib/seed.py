"""Seed data for the benchmarks: institutions, members, exams (after Django is set up).

The core's models are imported here and in ``bench.lib.clarius`` only: when the portal's
modules move, these imports are the ones to fix.
"""

from __future__ import annotations

import uuid


def institution(name: str = "Bench Clinic", slug: str = "bench-clinic"):
    from portal.tenants.models import Institution

    return Institution.objects.create(name=name, slug=slug)


def member(institution, email: str, role: str, **user_fields):
    """A new user with ``role`` (``admin``, ``reviewer``, ``clinician``) in ``institution``."""
    from django.contrib.auth import get_user_model

    from portal.tenants.models import Membership

    user = get_user_model().objects.create_user(email, **user_fields)
    Membership.objects.create(institution=institution, user=user, role=role)
    return user


def exam_with_submission(institution, operator):
    """A ready exam with one submission, as the ingestion leaves it."""
    from django.utils import timezone

    from portal.exams.models import Exam, Submission

    now = timezone.now()
    exam = Exam.objects.create(
        institution=institution,
        exam_uuid=uuid.uuid4(),
        operator=operator,
        status=Exam.Status.READY,
        first_submitted_at=now,
        last_submitted_at=now,
    )
    Submission.objects.create(
        institution=institution,
        exam=exam,
        request_uuid=uuid.uuid4(),
        submitted_at=now,
        download_url="https://cloud.clarius.com/api/public/v0/x/",
    )
    return exam


# --- many exams at once, by SQL -----------------------------------------------------------

FIRST_NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Margaret",
    "Ken",
    "Radia",
    "Tim",
    "Katherine",
    "Dennis",
    "Hedy",
    "Linus",
    "Sophie",
    "Niklaus",
    "Anita",
    "Guido",
]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Backus",
    "Hamilton",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Johnson",
    "Ritchie",
    "Lamarr",
    "Torvalds",
    "Wilson",
    "Wirth",
    "Borg",
    "van Rossum",
    "Smith",
    "Smythe",
    "Nguyen",
    "Okafor",
    "Garcia",
    "Kowalski",
    "Yamada",
    "Schmidt",
    "Dubois",
    "Rossi",
]
ANIMALS = ["Biscuit", "Luna", "Max", "Bella", "Rocky", "Daisy", "Milo", "Coco"]
ROLES = ["admin", "reviewer", "reviewer"] + ["clinician"] * 4


def _sql_array(values) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def many_exams(institutions: int, exams: int) -> dict:
    """``institutions`` of 7 members (1 admin, 2 reviewers, 4 clinicians) and ``exams`` exams
    with their patients, by ``INSERT ... SELECT generate_series`` (PostgreSQL only).

    Skewed as in real life (``power(random(), 2)``: the first institutions hold most); random
    states, reviewers, submission and signature times; 8 % of the patients are animals.
    Returns ``sizes`` (institution id, exam count; largest first) and ``staff`` (per
    institution id: its ``index``, ``reviewers`` and ``clinicians`` user ids).
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from portal.tenants.models import Institution, Membership

    User = get_user_model()
    password = make_password("bench-password-not-secret")  # hashed once, shared
    roles = ROLES
    with transaction.atomic():
        created = Institution.objects.bulk_create(
            Institution(name=f"Clinic {k:03d}", slug=f"clinic-{k:03d}")
            for k in range(1, institutions + 1)
        )
        users = User.objects.bulk_create(
            User(
                email=f"{role}{n}@{inst.slug}.bench",
                full_name=f"{role.title()} {n} {inst.slug}",
                password=password,
            )
            for inst in created
            for n, role in enumerate(roles)
        )
        Membership.objects.bulk_create(
            Membership(institution=inst, user=users[i * len(roles) + n], role=role)
            for i, inst in enumerate(created)
            for n, role in enumerate(roles)
        )
        staff = {
            inst.pk: {
                "index": i + 1,
                "reviewers": [u.pk for u in users[i * len(roles) + 1 : i * len(roles) + 3]],
                "clinicians": [u.pk for u in users[i * len(roles) + 3 : (i + 1) * len(roles)]],
            }
            for i, inst in enumerate(created)
        }
    sizes = add_exams(institutions, exams, staff)
    return {"sizes": sizes, "staff": staff}


def add_exams(institutions: int, exams: int, staff: dict) -> list[tuple[int, int]]:
    """``exams`` more exams with their patients over the ``institutions`` of ``staff``
    (``many_exams``); returns the institutions' sizes, largest first.

    The portal's triggers (``portal.exams.tallies``) are off for the load
    (``session_replication_role``): the patient sort key is written with the exam (the
    names are a function of its id) and the tallies are rebuilt once at the end, as
    migration exams.0013 does, rather than a row at a time."""
    from django.db import connection, transaction

    from portal.exams import tallies

    rows = ", ".join(
        f"({s['index']}, {pk}, ARRAY{s['reviewers']}::bigint[], ARRAY{s['clinicians']}::bigint[])"
        for pk, s in staff.items()
    )
    first = f"({_sql_array(FIRST_NAMES)})[1 + (id * 7) % {len(FIRST_NAMES)}]"
    last = f"({_sql_array(LAST_NAMES)})[1 + (id * 13) % {len(LAST_NAMES)}]"
    animal = f"({_sql_array(ANIMALS)})[1 + id % {len(ANIMALS)}]"
    is_animal = "(id * 37) % 100 < 8"  # 8 % of the patients, known from the id alone
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS bench_staff "
            "(idx int, institution_id bigint, reviewers bigint[], clinicians bigint[])"
        )
        cursor.execute("TRUNCATE bench_staff")
        cursor.execute("INSERT INTO bench_staff VALUES " + rows)  # noqa: S608 (our ids)
        cursor.execute("SELECT coalesce(max(id), 0) FROM exams_exam")
        start = cursor.fetchone()[0]
        # power(random(), 2) skews exams towards the first institutions. These SQL
        # strings are built from this module's constants and ids only.
        cursor.execute(
            f"""
            WITH g AS MATERIALIZED (
                SELECT {start} + n AS id,
                       1 + floor({institutions} * power(random(), 2))::int AS idx,
                       random() AS r_status, random() AS r_state, random() AS r_age,
                       random() AS r_turn, random() AS r_resubmit
                FROM generate_series(1, {exams}) AS n
            ), t AS (
                SELECT g.*, s.*,
                       now() - power(r_age, 1.5) * interval '400 days' AS submitted,
                       CASE WHEN r_state < .30 THEN 'new' WHEN r_state < .50 THEN 'in_review'
                            WHEN r_state < .70 THEN 'signed' ELSE 'reported' END AS state
                FROM g JOIN bench_staff s USING (idx)
            )
            INSERT INTO exams_exam (id, institution_id, exam_uuid, status, review_state,
                reviewer_id, signed_at, operator_id, first_submitted_at, last_submitted_at,
                created_at, updated_at, clarius_application, exam_type_confirmed,
                new_images_since_signing, patient_sort)
            SELECT id, institution_id, gen_random_uuid(),
                   CASE WHEN r_status < .02 THEN 'incomplete' WHEN r_status < .03
                        THEN 'receiving' ELSE 'ready' END,
                   state,
                   CASE WHEN state = 'new' THEN NULL ELSE reviewers[1 + id % 2] END,
                   CASE WHEN state IN ('signed', 'reported')
                        THEN least(now(), submitted + r_turn * interval '72 hours') END,
                   clinicians[1 + id % 4],
                   submitted,
                   submitted + CASE WHEN r_resubmit < .1 THEN interval '2 hours'
                                    ELSE interval '0' END,
                   now(), now(), '', false, false,
                   CASE WHEN {is_animal} THEN lower({animal})
                        ELSE lower({last} || ' ' || {first}) END
            FROM t
            """  # noqa: S608
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('exams_exam', 'id'), "
            "(SELECT max(id) FROM exams_exam))"
        )
        cursor.execute(
            f"""
            INSERT INTO exams_patient (institution_id, exam_id, identifier, first_name,
                middle_name, last_name, date_of_birth_text, gender, animal_name,
                animal_type, owner_name, extra)
            SELECT institution_id, id, 'MRN-' || lpad(id::text, 7, '0'),
                   CASE WHEN {is_animal} THEN '' ELSE {first} END,
                   '',
                   CASE WHEN {is_animal} THEN '' ELSE {last} END,
                   '', '',
                   CASE WHEN {is_animal} THEN {animal} ELSE '' END,
                   CASE WHEN {is_animal} THEN (ARRAY['Dog', 'Cat', 'Horse'])[1 + id % 3]
                        ELSE '' END,
                   CASE WHEN {is_animal} THEN 'Owner ' || id ELSE '' END,
                   '{{}}'::jsonb
            FROM exams_exam WHERE id > {start}
            """  # noqa: S608
        )
        # The sort keys were written with the exams: only the tallies are rebuilt.
        for statement in tallies.backfill("postgresql")[1:]:
            cursor.execute(statement)
        cursor.execute("SET LOCAL session_replication_role = origin")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(
            "SELECT institution_id, count(*) FROM exams_exam GROUP BY institution_id "
            "ORDER BY count(*) DESC, institution_id"
        )
        return cursor.fetchall()
