"""Benchmark: the worklist page at 100,000 exams over 200 institutions, on PostgreSQL.

Run ``python bench/bench_worklist.py`` from the repository root (``make bench`` does). It
sets everything up itself and removes it at the end, on an error or on Ctrl-C:

1. a throwaway PostgreSQL (``bench/pgtemp.py``), migrated;
2. 200 institutions with 7 members each (1 admin, 2 reviewers, 4 clinicians), and
   100,000 exams with their patients, made by ``INSERT ... SELECT generate_series`` in a
   few seconds. Institutions are skewed as in real life: the largest holds about 7,000
   exams, the smallest about 250. States, reviewers, submission and signature times are
   random; 8 % of the patients are animals;
3. for the largest, a middle-sized and the smallest institution, a reviewer's worklist
   is rendered in-process through Django's test ``Client`` (the whole stack: sessions,
   middleware, the ORM, the template) for several pages, filters and sorts, ``RUNS``
   times each after a warm-up;
4. the same run times the page's own ``SELECT`` (the SQL the ORM sent for the page:
   same rows, ``WHERE``, ``ORDER BY`` and ``LIMIT``) on a bare psycopg connection: the
   baseline. ``render / bare`` says what the rest of the stack costs on top of the query
   a page cannot do without.

Printed for every case: queries per request, render p50 and p95, bare-SQL p50 and p95,
the ratio of the medians, and the indexes in the page query's plan. Exit status 1 if the
number of queries differs between cases (it must not depend on the page size, the page
or the filters) or a page query scans the whole exam table; otherwise 0.
"""

from __future__ import annotations

import html
import os
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, this folder comes first on sys.path; its modules must only ever be
# imported as bench.<name>.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pgtemp import PostgresUnavailable, TempPostgres  # noqa: E402

INSTITUTIONS = 200
EXAMS = 100_000
RUNS = 25
NEXT_LINK = re.compile(r'<a href="([^"]*)" rel="next">')
ROW = 'data-label="Patient"'
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


def sql_array(values) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_DEBUG"] = "1"  # the development secret key and storage
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    # Static files are served from the finders here; there is no collectstatic output.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.conf import settings

    # As in production: with DEBUG on, Django would also keep every query in memory.
    settings.DEBUG = False


def seed() -> dict:
    """The institutions, members, exams and patients; returns what the cases need."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from portal.tenants.models import Institution, Membership

    User = get_user_model()
    password = make_password("bench-password-not-secret")  # hashed once, shared
    with transaction.atomic():
        institutions = Institution.objects.bulk_create(
            Institution(name=f"Clinic {k:03d}", slug=f"clinic-{k:03d}")
            for k in range(1, INSTITUTIONS + 1)
        )
        roles = ["admin", "reviewer", "reviewer"] + ["clinician"] * 4
        users = User.objects.bulk_create(
            User(
                email=f"{role}{n}@{inst.slug}.bench",
                full_name=f"{role.title()} {n} {inst.slug}",
                password=password,
            )
            for inst in institutions
            for n, role in enumerate(roles)
        )
        Membership.objects.bulk_create(
            Membership(institution=inst, user=users[i * len(roles) + n], role=role)
            for i, inst in enumerate(institutions)
            for n, role in enumerate(roles)
        )
        staff = {
            inst.pk: {
                "index": i + 1,
                "reviewers": [u.pk for u in users[i * len(roles) + 1 : i * len(roles) + 3]],
                "clinicians": [u.pk for u in users[i * len(roles) + 3 : (i + 1) * len(roles)]],
            }
            for i, inst in enumerate(institutions)
        }
    rows = ", ".join(
        f"({s['index']}, {pk}, ARRAY{s['reviewers']}::bigint[], ARRAY{s['clinicians']}::bigint[])"
        for pk, s in staff.items()
    )
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute(
            "CREATE TEMP TABLE bench_staff "
            "(idx int, institution_id bigint, reviewers bigint[], clinicians bigint[])"
        )
        cursor.execute("INSERT INTO bench_staff VALUES " + rows)  # noqa: S608 (our ids)
        # power(random(), 2) skews exams towards the first institutions. These SQL
        # strings are built from this module's constants and ids only.
        cursor.execute(
            f"""
            WITH g AS MATERIALIZED (
                SELECT n, 1 + floor({INSTITUTIONS} * power(random(), 2))::int AS idx,
                       random() AS r_status, random() AS r_state, random() AS r_age,
                       random() AS r_turn, random() AS r_resubmit
                FROM generate_series(1, {EXAMS}) AS n
            ), t AS (
                SELECT g.*, s.*,
                       now() - power(r_age, 1.5) * interval '400 days' AS submitted,
                       CASE WHEN r_state < .30 THEN 'new' WHEN r_state < .50 THEN 'in_review'
                            WHEN r_state < .70 THEN 'signed' ELSE 'reported' END AS state
                FROM g JOIN bench_staff s USING (idx)
            )
            INSERT INTO exams_exam (institution_id, exam_uuid, status, review_state,
                reviewer_id, signed_at, operator_id, first_submitted_at, last_submitted_at,
                created_at, updated_at)
            SELECT institution_id, gen_random_uuid(),
                   CASE WHEN r_status < .02 THEN 'incomplete' WHEN r_status < .03
                        THEN 'receiving' ELSE 'ready' END,
                   state,
                   CASE WHEN state = 'new' THEN NULL ELSE reviewers[1 + n % 2] END,
                   CASE WHEN state IN ('signed', 'reported')
                        THEN least(now(), submitted + r_turn * interval '72 hours') END,
                   clinicians[1 + n % 4],
                   submitted,
                   submitted + CASE WHEN r_resubmit < .1 THEN interval '2 hours'
                                    ELSE interval '0' END,
                   now(), now()
            FROM t
            """  # noqa: S608
        )
        cursor.execute(
            f"""
            INSERT INTO exams_patient (institution_id, exam_id, identifier, first_name,
                middle_name, last_name, date_of_birth_text, gender, animal_name,
                animal_type, owner_name, extra)
            SELECT institution_id, id, 'MRN-' || lpad(id::text, 7, '0'),
                   CASE WHEN animal THEN '' ELSE
                        ({sql_array(FIRST_NAMES)})[1 + (id * 7) % {len(FIRST_NAMES)}] END,
                   '',
                   CASE WHEN animal THEN '' ELSE
                        ({sql_array(LAST_NAMES)})[1 + (id * 13) % {len(LAST_NAMES)}] END,
                   '', '',
                   CASE WHEN animal THEN
                        ({sql_array(ANIMALS)})[1 + id % {len(ANIMALS)}] ELSE '' END,
                   CASE WHEN animal THEN (ARRAY['Dog', 'Cat', 'Horse'])[1 + id % 3]
                        ELSE '' END,
                   CASE WHEN animal THEN 'Owner ' || id ELSE '' END,
                   '{{}}'::jsonb
            FROM (SELECT id, institution_id, random() < .08 AS animal FROM exams_exam) AS e
            """  # noqa: S608
        )
        cursor.execute("ANALYZE")
        cursor.execute(
            "SELECT institution_id, count(*) FROM exams_exam GROUP BY institution_id "
            "ORDER BY count(*) DESC, institution_id"
        )
        sizes = cursor.fetchall()
    return {"sizes": sizes, "staff": staff}


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def page_query(captured: list[str]) -> str:
    """The page's own SELECT among a request's queries (the one with the LIMIT)."""
    pages = [sql for sql in captured if 'FROM "exams_exam"' in sql and "LIMIT" in sql]
    assert len(pages) == 1, pages
    return pages[0]


def plan_summary(bare, sql) -> tuple[str, bool]:
    """The indexes the plan uses, and whether it reads the whole exam table."""
    with bare.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0][0]["Plan"]
    indexes, full_scan, stack = [], False, [plan]
    while stack:
        node = stack.pop()
        if node.get("Index Name") and node["Index Name"] not in indexes:
            indexes.append(node["Index Name"])
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "exams_exam":
            full_scan = True
        stack.extend(node.get("Plans", []))
    return ", ".join(indexes) or "(none)", full_scan


def timed(function, runs=RUNS) -> list[float]:
    function()  # warm-up: caches, the plan, the template
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def cases_for(client):
    """(name, query string) for one institution; "page 5" follows the next links."""
    cases = [
        ("first page (25)", ""),
        ("10 per page", "size=10"),
        ("100 per page", "size=100"),
        ("state: new", "review_state=new"),
        ("ingestion: incomplete", "status=incomplete"),
        ("reviewer: me", "reviewer=me"),
        ("submitted last 30 days", "submitted_from=" + _days_ago(30)),
        ("search 'smi'", "q=smi"),
        ("sort: patient", "sort=patient"),
        ("sort: -state", "sort=-state"),
    ]
    query = ""
    for _ in range(4):
        following = NEXT_LINK.search(client.get("/worklist/?" + query).content.decode())
        if not following:
            break
        query = html.unescape(following.group(1)).lstrip("?")
    cases.insert(1, ("page 5 (keyset)", query))
    return cases


def _days_ago(days):
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.localdate() - timedelta(days=days)).isoformat()


def measure(client, bare, url, own_sql) -> dict:
    """One case: the request's queries, then RUNS renders and RUNS runs of ``own_sql``."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    # Read now: the next request resets the connection's query log.
    queries = [q["sql"] for q in captured.captured_queries]
    sql = own_sql(queries)

    def select():
        with bare.cursor() as cursor:
            for statement in sql:
                cursor.execute(statement)
                cursor.fetchall()

    return {
        "rows": response.content.decode().count(ROW),
        "queries": len(queries),
        "sql": sql,
        "render": timed(lambda: client.get(url)),
        "bare": timed(select),
    }


def run_cases(bare, seeded) -> tuple[list[dict], list[str]]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    sizes = seeded["sizes"]
    chosen = [sizes[0], sizes[len(sizes) // 2], sizes[-1]]
    results, problems = [], []
    for institution_id, exam_count in chosen:
        staff = seeded["staff"][institution_id]
        reviewer = get_user_model().objects.get(pk=staff["reviewers"][0])
        client = Client()
        client.force_login(reviewer)
        for name, query in cases_for(client):
            result = measure(client, bare, "/worklist/?" + query, lambda q: [page_query(q)])
            result["indexes"], full_scan = plan_summary(bare, result["sql"][0])
            if full_scan:
                problems.append(f"{name} at {exam_count} exams scans the whole exam table")
            results.append({"institution": f"{exam_count} exams", "case": name, **result})
        # For comparison only (no target): the dashboard, whose baseline is all its SQL.
        result = measure(client, bare, "/", lambda q: [s for s in q if s.startswith("SELECT")])
        result["indexes"] = "(its aggregates)"
        results.append(
            {"institution": f"{exam_count} exams", "case": "dashboard (all SQL)", **result}
        )
    counts = {r["queries"] for r in results if not r["case"].startswith("dashboard")}
    if len(counts) != 1:
        problems.append(f"queries per page vary between cases: {sorted(counts)}")
    return results, problems


def report(results, seconds) -> None:
    print(f"\nWorklist of a reviewer, {RUNS} renders per case after a warm-up; times in ms.")
    print("bare = the page's own SELECT (same WHERE, ORDER BY, LIMIT), plain psycopg")
    header = (
        f"{'institution':<12} {'case':<24} {'rows':>4} {'queries':>7}  {'render p50':>10} "
        f"{'p95':>7}  {'bare p50':>8} {'p95':>6}  {'render/bare':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        p50, bare50 = statistics.median(r["render"]), statistics.median(r["bare"])
        print(
            f"{r['institution']:<12} {r['case']:<24} {r['rows']:>4} {r['queries']:>7}  "
            f"{p50:>10.2f} {percentile(r['render'], 0.95):>7.2f}  "
            f"{bare50:>8.2f} {percentile(r['bare'], 0.95):>6.2f}  {p50 / bare50:>10.1f}×"
        )
    print("\nIndexes in each page query's plan:")
    for r in results:
        print(f"  {r['institution']:<12} {r['case']:<24} {r['indexes']}")
    worklist = [r for r in results if not r["case"].startswith("dashboard")]
    renders = [t for r in worklist for t in r["render"]]
    bares = [t for r in worklist for t in r["bare"]]
    ratios = [statistics.median(r["render"]) / statistics.median(r["bare"]) for r in worklist]
    print(
        f"\nAll worklist cases: render p50 {statistics.median(renders):.2f} ms, "
        f"p95 {percentile(renders, 0.95):.2f} ms; "
        f"bare SELECT p50 {statistics.median(bares):.2f} ms, "
        f"p95 {percentile(bares, 0.95):.2f} ms; "
        f"render/bare {min(ratios):.1f}×–{max(ratios):.1f}× "
        f"(median {statistics.median(ratios):.1f}×)"
    )
    print(
        f"Worklist queries per page: {results[0]['queries']} in every case "
        f"(session, user, memberships, members for the filters, the page). "
        f"Total time {seconds:.0f} s."
    )


def main() -> int:
    started = time.monotonic()
    try:
        pg = TempPostgres(durable=False).start()
    except PostgresUnavailable as e:
        print(f"cannot run: {e}")
        return 1
    try:
        print(f"PostgreSQL on 127.0.0.1:{pg.port} ({pg.root})", flush=True)
        setup_django(pg.url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"migrated in {time.monotonic() - started:.1f} s", flush=True)
        seeding = time.monotonic()
        seeded = seed()
        biggest, smallest = seeded["sizes"][0][1], seeded["sizes"][-1][1]
        print(
            f"seeded {EXAMS:,} exams and patients over {INSTITUTIONS} institutions "
            f"({smallest}–{biggest} each) in {time.monotonic() - seeding:.1f} s",
            flush=True,
        )
        import psycopg

        with psycopg.connect(pg.url, autocommit=True) as bare:
            results, problems = run_cases(bare, seeded)
        from django.db import connections

        connections.close_all()
        report(results, time.monotonic() - started)
        for problem in problems:
            print(f"PROBLEM: {problem}")
        return 1 if problems else 0
    finally:
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
