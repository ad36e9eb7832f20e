"""Benchmark: the QA program dashboard and the credentialing page at 50,000 exams.

Run ``python bench/bench_qa_program.py`` from the repository root (``make bench
BENCH=qa_program`` does). The engine (``--engine``, or ``BENCH_ENGINE``):

- ``auto`` (the default): PostgreSQL at ``DATABASE_URL`` when it is set (a throwaway
  database created on that server for the run and dropped at the end; the role needs
  CREATEDB), else a throwaway PostgreSQL cluster (``bench/lib/pg.py``, as
  ``bench_worklist.py``) when its binaries are installed, else SQLite;
- ``postgres``: the same, but never SQLite; ``sqlite``: a fresh SQLite file in a
  temporary folder.

Then:

1. two institutions, migrated and seeded with ``bulk_create``: a large one of 200
   operators and 50,000 exams, a small one of 20 operators and 5,000 exams, spread over
   the last 52 weeks. Each exam has an exam type, an operator and a first QA read (85 %
   scored with an image quality, an interpretation and the pass rule, the rest pending
   and some overdue); 5 % have a blinded second read; operators past an exam type's
   threshold hold the credential by count, and a few hold one by an administrator's grant;
2. as a QA lead of each, Django's test ``Client`` (sessions, middleware, the ORM, the
   template; ``DEBUG`` off) renders ``/qa/program/`` (the default 12 weeks, and the whole
   year) and ``/qa/credentialing/`` (the department table), ``RUNS`` times each after a
   warm-up;
3. the same run times the SQL those pages aggregate with (every statement the request
   sent to the exam, QA and exam type tables: same ``GROUP BY``, same functions) on a
   bare DB-API connection: the baseline. ``render / bare`` is what the rest of the stack
   costs on top of the aggregates the page cannot do without.

Printed for every case: queries per request, render p50 and p95, bare p50 and p95 and
the ratio of the p95s. Target: the program dashboard's p95 at 50,000 exams ≤ 3× its bare
SQL's. Exit status 1 if a page's number of queries differs between the two sizes, or
(``--strict``) if the target is missed; otherwise 0.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Run as a script, this folder comes first on sys.path; its modules must only ever be
# imported as bench.<name>.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.lib import django_setup  # noqa: E402
from bench.lib.pages import RUNS, measure  # noqa: E402
from bench.lib.pg import PostgresUnavailable, TempPostgres, find_pg_bin  # noqa: E402
from bench.lib.report import Column, Table, log, percentile  # noqa: E402

SIZES = [("large", 200, 50_000), ("small", 20, 5_000)]
WEEKS = 52
# On SQLite the week and the percentiles are Python functions called per row: a request
# takes seconds at 50,000 exams, so fewer runs.
SQLITE_RUNS = 10
TARGET = 3.0  # the program dashboard's p95 against its bare SQL's, at 50,000 exams
SCORED, SECOND_READS, GRANTS = 0.85, 0.05, 10
# The page's own aggregates: statements on these tables (not the session, the user, the
# memberships or the header's notifications).
OWN_TABLES = re.compile(r'FROM "(exams_exam|qa_\w+|worksheets_examtype)"')


# --- The database --------------------------------------------------------------------------


@contextlib.contextmanager
def database(engine: str):
    """Django in this process on a fresh database of ``engine``; yields a description."""
    url = os.environ.get("DATABASE_URL", "")
    if engine == "auto":
        engine = "server" if url.startswith("postgres") else "postgres"
        if engine == "postgres":
            try:
                find_pg_bin()
            except PostgresUnavailable:
                engine = "sqlite"
    elif engine == "postgres" and url.startswith("postgres"):
        engine = "server"
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-qa-program-") as folder:
            django_setup.in_process(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
            try:
                yield "SQLite (a file in a temporary folder)"
            finally:
                django_setup.close_connections()
    elif engine == "server":
        with throwaway_database(url) as bench_url:
            django_setup.in_process(bench_url)
            try:
                yield f"PostgreSQL at DATABASE_URL ({urlsplit(url).hostname}:{urlsplit(url).port})"
            finally:
                django_setup.close_connections()
    else:
        pg = TempPostgres(durable=False).start()
        try:
            django_setup.in_process(pg.url)
            yield f"PostgreSQL, a throwaway cluster on 127.0.0.1:{pg.port}"
        finally:
            django_setup.close_connections()
            pg.stop()


@contextlib.contextmanager
def throwaway_database(url: str):
    """A database of its own on the server at ``url``, dropped at the end."""
    import psycopg

    name = f"bench_qa_program_{os.getpid()}"
    parts = urlsplit(url)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        django_setup.close_connections()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class SQLiteBare:
    """The SQLite connection Django opened, bare: its DB-API cursor (with the functions
    Django and the portal register on it), no ORM."""

    def cursor(self):
        from django.db import connection

        connection.ensure_connection()
        return contextlib.closing(connection.connection.cursor())


@contextlib.contextmanager
def bare_connection():
    from django.db import connection

    if connection.vendor == "sqlite":
        yield SQLiteBare()
        return
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        autocommit=True,
    ) as bare:
        yield bare


# --- The seed ----------------------------------------------------------------------------


@contextlib.contextmanager
def stored_as_given(*fields):
    """Keep the times the seed gives ``auto_now_add`` fields (they would all be now)."""
    saved = [(f, f.auto_now_add) for f in fields]
    for f, _ in saved:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f, value in saved:
            f.auto_now_add = value


def seed_institution(label: str, operators: int, exams: int, rng: random.Random) -> dict:
    """One institution of ``operators`` operators (and a QA lead) and ``exams`` exams with
    their QA rows, by ``bulk_create``; returns its id, its lead and what was made."""
    import uuid

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from portal.exams.models import Exam
    from portal.qa import rubric
    from portal.qa.models import Credential, QAReview, QASettings, default_required
    from portal.tenants.models import Institution, Membership
    from portal.worksheets.models import ExamType

    User = get_user_model()
    institution = Institution.objects.create(name=f"Bench {label}", slug=f"bench-{label}")
    QASettings.objects.update_or_create(institution=institution, defaults={"is_active": True})
    types = list(ExamType.objects.filter(institution=institution).order_by("pk"))
    required = {t.pk: default_required(t.code) for t in types}
    lead = User.objects.create_user(f"lead@{label}.bench", full_name=f"Lee Lead {label}")
    Membership.objects.create(
        institution=institution, user=lead, role="reviewer", is_qa_reviewer=True, is_qa_lead=True
    )
    users = User.objects.bulk_create(
        [
            User(email=f"op{n:03d}@{label}.bench", full_name=f"Operator {n:03d}", password="!")
            for n in range(operators)
        ]
    )
    Membership.objects.bulk_create(
        [
            Membership(
                institution=institution,
                user=u,
                role="reviewer" if n % 4 == 0 else "clinician",
                is_trainee=n % 4 != 0,
            )
            for n, u in enumerate(users)
        ]
    )
    now = timezone.now()
    # Busy operators and common exam types, as in real life.
    op_weights = [1 / (1 + n / 10) for n in range(operators)]
    type_weights = [1 / (1 + n) for n in range(len(types))]
    times = sorted(now - datetime.timedelta(weeks=WEEKS) * rng.random() for _ in range(exams))
    chosen_operators = rng.choices(users, op_weights, k=exams)
    chosen_types = rng.choices(types, type_weights, k=exams)
    rows = [
        Exam(
            institution=institution,
            exam_uuid=uuid.uuid4(),
            operator=operator,
            exam_type=exam_type,
            status=Exam.Status.READY,
            review_state=Exam.ReviewState.SIGNED,
            first_submitted_at=at,
            last_submitted_at=at,
            signed_at=at + datetime.timedelta(hours=1),
        )
        for at, operator, exam_type in zip(times, chosen_operators, chosen_types, strict=True)
    ]
    exam_created = Exam._meta.get_field("created_at")
    with stored_as_given(exam_created):
        for row in rows:
            row.created_at = row.first_submitted_at
        made = Exam.objects.bulk_create(rows, batch_size=2000)
    reviews, passed = [], {}
    for exam in made:
        selected = exam.signed_at
        for read in (1, 2):
            if read == 2 and rng.random() >= SECOND_READS:
                break
            # The oldest are all scored; the last fortnight's are partly waiting.
            recent = (now - selected) < datetime.timedelta(days=14)
            done = rng.random() < (0.5 if recent else SCORED + 0.14)
            review = QAReview(
                institution=institution,
                exam=exam,
                read=read,
                reason="in_training" if read == 1 else "double_read",
                operator_id=exam.operator_id,
                exam_type_id=exam.exam_type_id,
                due_at=selected + datetime.timedelta(hours=72),
                created_at=selected,
                assignee=lead if rng.random() < 0.7 else None,
            )
            if done:
                quality = rng.choices([1, 2, 3, 4, 5], [2, 6, 30, 40, 22])[0]
                interpretation = rng.choices(
                    [rubric.AGREE, rubric.FALSE_POSITIVE, rubric.FALSE_NEGATIVE], [90, 5, 5]
                )[0]
                review.state = QAReview.State.DONE
                review.image_quality = quality
                review.interpretation = interpretation
                review.passed = rubric.passes(quality, interpretation)
                review.scored_by = lead
                review.scored_at = min(
                    now, selected + datetime.timedelta(hours=rng.lognormvariate(3.5, 0.8))
                )
                if read == 1 and review.passed:
                    key = (exam.operator_id, exam.exam_type_id)
                    passed.setdefault(key, []).append(review.scored_at)
            reviews.append(review)
    with stored_as_given(QAReview._meta.get_field("created_at")):
        QAReview.objects.bulk_create(reviews, batch_size=2000)
    credentials = []
    for (operator_id, type_id), when in passed.items():
        if len(when) >= required[type_id]:
            since = sorted(when)[required[type_id] - 1]
            credentials.append(
                Credential(
                    institution=institution,
                    user_id=operator_id,
                    exam_type_id=type_id,
                    basis="count",
                    since=since,
                )
            )
    held = {(c.user_id, c.exam_type_id) for c in credentials}
    for n, user in enumerate(users[-GRANTS:]):
        type_id = types[n % len(types)].pk
        if (user.pk, type_id) not in held:
            credentials.append(
                Credential(
                    institution=institution,
                    user=user,
                    exam_type_id=type_id,
                    basis="grant",
                    since=now - datetime.timedelta(days=400),
                    granted_by=lead,
                    note="Credentialed at another hospital",
                )
            )
    Credential.objects.bulk_create(credentials)
    return {
        "label": label,
        "institution": institution.pk,
        "lead": lead,
        "operators": operators,
        "exams": exams,
        "reviews": len(reviews),
        "credentials": len(credentials),
    }


# --- The measurement ------------------------------------------------------------------------


def own_sql(captured: list[str]) -> list[str]:
    return [sql for sql in captured if sql.startswith("SELECT") and OWN_TABLES.search(sql)]


def touches_session(sql: str) -> bool:
    """The session's activity write (at most once per interval, not per page)."""
    return sql.startswith("UPDATE") and "usersessions_usersession" in sql


def rows_in(response) -> int:
    return response.content.decode().count("<tr")


def cases() -> list[tuple[str, str]]:
    from django.utils import timezone

    year_ago = timezone.localdate() - datetime.timedelta(weeks=WEEKS)
    return [
        ("program, 12 weeks", "/qa/program/"),
        ("program, 52 weeks", f"/qa/program/?start={year_ago.isoformat()}"),
        ("credentialing", "/qa/credentialing/"),
    ]


def run_cases(bare, seeded: list[dict], runs: int) -> tuple[list[dict], list[str]]:
    from django.test import Client

    results, problems = [], []
    for institution in seeded:
        client = Client()
        client.force_login(institution["lead"])
        for name, url in cases():
            log(f"{institution['exams']:,} exams: {name}")
            result = measure(client, bare, url, own_sql, rows_in, runs=runs, skip=touches_session)
            results.append(
                {"institution": f"{institution['exams']:,} exams", "case": name, **result}
            )
    for name, _ in cases():
        counts = {r["queries"] for r in results if r["case"] == name}
        if len(counts) != 1:
            problems.append(f"{name}: queries per request vary with the size: {sorted(counts)}")
    return results, problems


TABLE = Table(
    Column("institution", 12, left=True),
    Column("case", 18, left=True),
    Column("rows", 4),
    Column("queries", 7),
    Column("own", 3),
    Column("render p50", 10, ".1f", gap=2),
    Column("p95", 7, ".1f"),
    Column("bare p50", 8, ".1f", gap=2),
    Column("p95", 7, ".1f"),
    Column("p95 ratio", 9, ".2f", gap=2, suffix="×"),
)


def report(engine: str, seeded, results, seconds: float, strict: bool, runs: int) -> list[str]:
    problems = []
    print(f"\nEngine: {engine}.")
    for s in seeded:
        print(
            f"  {s['label']}: {s['operators']} operators, {s['exams']:,} exams, "
            f"{s['reviews']:,} QA reads, {s['credentials']} credentials"
        )
    print(f"\nA QA lead's pages, {runs} renders per case after a warm-up; times in ms.")
    print("own = the page's aggregate statements; bare = those, on a bare DB-API connection")
    header = TABLE.header()
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            TABLE.row(
                r["institution"], r["case"], r["rows"], r["queries"], len(r["sql"]),
                statistics.median(r["render"]), percentile(r["render"], 0.95),
                statistics.median(r["bare"]), percentile(r["bare"], 0.95),
                percentile(r["render"], 0.95) / percentile(r["bare"], 0.95),
            )
        )  # fmt: skip
    large = f"{seeded[0]['exams']:,} exams"
    for r in results:
        if r["institution"] == large and r["case"].startswith("program"):
            ratio = percentile(r["render"], 0.95) / percentile(r["bare"], 0.95)
            verdict = "meets" if ratio <= TARGET else "MISSES"
            print(f"{r['case']} at {large}: p95 {ratio:.2f}× the bare SQL: {verdict} ≤ {TARGET}×")
            if ratio > TARGET and strict:
                problems.append(f"{r['case']} at {large}: p95 ratio {ratio:.2f}× > {TARGET}×")
    counts = {
        name: sorted({r["queries"] for r in results if r["case"] == name}) for name, _ in cases()
    }
    print(
        f"Queries per request at {seeded[1]['exams']:,} and {seeded[0]['exams']:,} exams: "
        + "; ".join(f"{name} {'/'.join(map(str, c))}" for name, c in counts.items())
        + f". Total time {seconds:.0f} s."
    )
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--engine",
        choices=["auto", "postgres", "sqlite"],
        default=os.environ.get("BENCH_ENGINE", "auto"),
    )
    parser.add_argument("--strict", action="store_true", help="fail when the target is missed")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fewer exams, for a quick try (e.g. 0.02)"
    )
    parser.add_argument(
        "--runs", type=int, default=None, help=f"renders per case ({RUNS}; {SQLITE_RUNS} on SQLite)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    rng = random.Random(14)  # noqa: S311 - a reproducible seed, not a secret
    try:
        with database(args.engine) as engine:
            log(f"on {engine}")
            django_setup.migrate()
            log(f"migrated in {time.monotonic() - started:.1f} s")
            seeded = []
            for label, operators, exams in SIZES:
                exams = max(100, round(exams * args.scale))
                seeding = time.monotonic()
                seeded.append(seed_institution(label, operators, exams, rng))
                log(f"seeded {exams:,} exams in {time.monotonic() - seeding:.1f} s")
            from django.db import connection

            if args.runs is None:
                args.runs = SQLITE_RUNS if connection.vendor == "sqlite" else RUNS
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            with bare_connection() as bare:
                results, problems = run_cases(bare, seeded, args.runs)
            problems += report(
                engine, seeded, results, time.monotonic() - started, args.strict, args.runs
            )
    except PostgresUnavailable as e:
        print(f"cannot run: {e}")
        return 1
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
