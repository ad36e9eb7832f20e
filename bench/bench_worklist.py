"""Benchmark: the worklist page at 100,000 and 1,000,000 exams, on PostgreSQL.

Run ``python bench/bench_worklist.py`` from the repository root (``make bench`` does). It
sets everything up itself and removes it at the end, on an error or on Ctrl-C:

1. a throwaway PostgreSQL (``bench/lib/pg.py``), migrated;
2. 200 institutions with 7 members each (1 admin, 2 reviewers, 4 clinicians), and
   100,000 exams with their patients, made by ``INSERT ... SELECT generate_series`` in a
   few seconds (``bench/lib/seed.py``). Institutions are skewed as in real life: the
   largest holds about 7,000 exams, the smallest about 250. States, reviewers, submission
   and signature times are random; 8 % of the patients are animals;
3. for the largest, a middle-sized and the smallest institution, a reviewer's worklist
   is rendered in-process through Django's test ``Client`` (the whole stack: sessions,
   middleware, the ORM, the template) for several pages, filters and sorts, ``RUNS``
   times each after a warm-up;
4. the same run times the page's own ``SELECT`` (the SQL the ORM sent for the page:
   same rows, ``WHERE``, ``ORDER BY`` and ``LIMIT``) on a bare psycopg connection: the
   baseline. ``render / bare`` says what the rest of the stack costs on top of the query
   a page cannot do without.

By default (``make bench``) it runs the scale comparison: 1,000 institutions, the same
largest and middle institution at 100,000 exams and again after growing the database to
1,000,000 (``seed.add_exams``: about 3,200 and 31,000 exams in the largest), every
worklist order, a fifth page, the dashboard and the API's list in every order: queries
per page at each size, p95 at each size and their ratio against the target (≤ 1.3×),
the bare SQL's p95, and the indexes in each plan. Exit status 1 if a ratio or a query
count misses. ``--cases`` runs the detailed cases below at 100,000 exams instead.

Printed for every case: queries per request, render p50 and p95, bare-SQL p50 and p95,
the ratio of the medians, and the indexes in the page query's plan. Exit status 1 if the
number of queries differs between cases (it must not depend on the page size, the page
or the filters) or a page query scans the whole exam table; otherwise 0.
"""

from __future__ import annotations

import html
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script, this folder comes first on sys.path; its modules must only ever be
# imported as bench.<name>.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.lib.pages import (  # noqa: E402
    RUNS,
    chosen,
    days_ago,
    measure,
    page_query,
    plan_summary,
    reviewer_of,
    seeded_postgres,
)
from bench.lib.pg import PostgresUnavailable  # noqa: E402
from bench.lib.report import Column, Table, percentile  # noqa: E402

NEXT_LINK = re.compile(r'<a href="([^"]*)" rel="next">')
ROW = 'data-label="Patient"'


def rows_in(response) -> int:
    return response.content.decode().count(ROW)


def remembers_filters(sql: str) -> bool:
    """The write that keeps a member's new filters (once per change, not per page)."""
    return sql.startswith("UPDATE") and "worklist_query" in sql


def cases_for(client):
    """(name, query string) for one institution; "page 5" follows the next links."""
    cases = [
        ("first page (25)", ""),
        ("10 per page", "size=10"),
        ("100 per page", "size=100"),
        ("state: new", "review_state=new"),
        ("ingestion: incomplete", "status=incomplete"),
        ("reviewer: me", "reviewer=me"),
        ("submitted last 30 days", "submitted_from=" + days_ago(30)),
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


def run_cases(bare, seeded) -> tuple[list[dict], list[str]]:
    from django.test import Client

    results, problems = [], []
    for institution_id, exam_count in chosen(seeded):
        client = Client()
        client.force_login(reviewer_of(seeded, institution_id))
        for name, query in cases_for(client):
            result = measure(
                client,
                bare,
                "/worklist/?" + query,
                lambda q: [page_query(q)],
                rows_in,
                skip=remembers_filters,
            )
            result["indexes"], full_scan = plan_summary(bare, result["sql"][0])
            if full_scan:
                problems.append(f"{name} at {exam_count} exams scans the whole exam table")
            results.append({"institution": f"{exam_count} exams", "case": name, **result})
        # For comparison only (no target): the dashboard, whose baseline is all its SQL.
        result = measure(
            client, bare, "/", lambda q: [s for s in q if s.startswith("SELECT")], rows_in
        )
        result["indexes"] = "(its aggregates)"
        results.append(
            {"institution": f"{exam_count} exams", "case": "dashboard (all SQL)", **result}
        )
    counts = {r["queries"] for r in results if not r["case"].startswith("dashboard")}
    if len(counts) != 1:
        problems.append(f"queries per page vary between cases: {sorted(counts)}")
    return results, problems


TABLE = Table(
    Column("institution", 12, left=True),
    Column("case", 24, left=True),
    Column("rows", 4),
    Column("queries", 7),
    Column("render p50", 10, ".2f", gap=2),
    Column("p95", 7, ".2f"),
    Column("bare p50", 8, ".2f", gap=2),
    Column("p95", 6, ".2f"),
    Column("render/bare", 11, ".1f", gap=2, suffix="×"),
)


def report(results, seconds) -> None:
    print(f"\nWorklist of a reviewer, {RUNS} renders per case after a warm-up; times in ms.")
    print("bare = the page's own SELECT (same WHERE, ORDER BY, LIMIT), plain psycopg")
    header = TABLE.header()
    print(header)
    print("-" * len(header))
    for r in results:
        p50, bare50 = statistics.median(r["render"]), statistics.median(r["bare"])
        print(
            TABLE.row(
                r["institution"], r["case"], r["rows"], r["queries"],
                p50, percentile(r["render"], 0.95), bare50, percentile(r["bare"], 0.95),
                p50 / bare50,
            )
        )  # fmt: skip
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


# The scale run: the same institutions at 100,000 and at 1,000,000 exams.
SIZES = (100_000, 1_000_000)
SCALE_INSTITUTIONS = 1_000
SCALE_TARGET = 1.3  # p95 at 1,000,000 / p95 at 100,000
# Requests per case and size: a p95 compared between two runs needs more than RUNS, or
# it is the second-slowest request of 25 and says more about the machine than the page.
SCALE_RUNS = 60


def scale_cases(client, headers) -> list[tuple[str, str, dict, Callable]]:
    """(name, URL, headers, rows counter): every worklist order, the dashboard, and the
    API's exam list in every order (with a read key)."""
    from bench.bench_api import api_rows
    from portal.dashboard.queries import SORTS

    cases = [(f"worklist sort {sort}", f"/worklist/?sort={sort}", {}, rows_in) for sort in SORTS]
    cases.append(("worklist page 5 (-submitted)", _fifth_page(client), {}, rows_in))
    cases.append(("dashboard", "/", {}, rows_in))
    cases += [
        (f"API list sort {sort}", f"/api/v1/exams/?sort={sort}", headers, api_rows)
        for sort in SORTS
    ]
    return cases


def _fifth_page(client) -> str:
    """The fifth page by the next links (or the last, for a small institution)."""
    query = ""
    for _ in range(4):
        following = NEXT_LINK.search(client.get("/worklist/?" + query).content.decode())
        if not following:
            break
        query = html.unescape(following.group(1)).lstrip("?")
    return "/worklist/?" + query


def measure_scale(bare, seeded, institutions, size) -> list[dict]:
    from django.test import Client

    from bench.bench_api import is_key_touch, read_key
    from bench.lib.pages import captured_request

    results = []
    for label, institution_id in institutions:
        client = Client()
        client.force_login(reviewer_of(seeded, institution_id))
        headers = {"Authorization": f"Bearer {read_key(seeded, institution_id)}"}
        exams = dict(seeded["sizes"])[institution_id]
        for name, url, extra, counter in scale_cases(client, headers):

            def skip(sql):
                return remembers_filters(sql) or is_key_touch(sql)

            _, queries = captured_request(client, url, skip, **extra)
            selects = [q for q in queries if q.startswith("SELECT")]
            dashboard = url == "/"
            own = selects if dashboard else [page_query(queries)]
            result = measure(
                client,
                bare,
                url,
                lambda q, own=own: own,
                counter,
                skip=skip,
                runs=SCALE_RUNS,
                **extra,
            )
            result["indexes"], full_scan = (
                plan_summary(bare, own[0]) if "sort=" in url else ("(its aggregates)", False)
            )
            results.append(
                {"size": size, "institution": label, "exams": exams, "case": name,
                 "full_scan": full_scan, **result}
            )  # fmt: skip
    return results


def main() -> int:
    if "--cases" in sys.argv:
        return main_100k()
    started = time.monotonic()
    try:
        with seeded_postgres(SCALE_INSTITUTIONS, SIZES[0]) as (pg, seeded):
            import psycopg

            sizes = seeded["sizes"]
            chosen_ids = [("largest", sizes[0][0]), ("tenth", sizes[len(sizes) // 10][0])]
            results = []
            with psycopg.connect(pg.url, autocommit=True) as bare:
                steady(bare)
                results += measure_scale(bare, seeded, chosen_ids, SIZES[0])
                from bench.lib import seed

                seeding = time.monotonic()
                seeded["sizes"] = seed.add_exams(
                    SCALE_INSTITUTIONS, SIZES[1] - SIZES[0], seeded["staff"]
                )
                print(
                    f"grew to {SIZES[1]:,} exams in {time.monotonic() - seeding:.1f} s "
                    f"(largest institution {seeded['sizes'][0][1]:,})",
                    flush=True,
                )
                steady(bare)
                results += measure_scale(bare, seeded, chosen_ids, SIZES[1])
    except PostgresUnavailable as e:
        print(f"cannot run: {e}")
        return 1
    return scale_report(results, time.monotonic() - started)


def steady(bare) -> None:
    """Vacuum what the seeding wrote, as autovacuum does in production, before timing.

    Rows inserted in bulk start autovacuum (PostgreSQL 13+ vacuums after inserts too)
    and leave the visibility map empty: left alone, the 900,000 new rows would be
    vacuumed in the background during the 1,000,000 pass only, and the two sizes would
    be compared on unequal machines.
    """
    started = time.monotonic()
    bare.execute("VACUUM (ANALYZE)")
    print(f"vacuumed in {time.monotonic() - started:.1f} s", flush=True)


def scale_report(results, seconds) -> int:
    small, large = SIZES
    print(
        f"\nThe same institutions at {small:,} and {large:,} exams over "
        f"{SCALE_INSTITUTIONS:,} institutions; {SCALE_RUNS} requests per case; times in ms. "
        f"Target: p95 at {large:,} ≤ {SCALE_TARGET}× p95 at {small:,}; queries per page "
        "the same."
    )
    header = (
        f"{'institution':<22} {'case':<30} {'queries':>7}  {'p95 100k':>8} {'p95 1M':>8} "
        f"{'ratio':>6}  {'SQL p95 100k':>12} {'1M':>7}  target"
    )
    print(header)
    print("-" * len(header))
    problems = []
    by_key = {(r["size"], r["institution"], r["case"]): r for r in results}
    for r in [r for r in results if r["size"] == small]:
        big = by_key[(large, r["institution"], r["case"])]
        p_small, p_big = percentile(r["render"], 0.95), percentile(big["render"], 0.95)
        ratio = p_big / p_small
        met = ratio <= SCALE_TARGET and r["queries"] == big["queries"]
        label = f"{r['institution']} {r['exams']:,}→{big['exams']:,}"
        print(
            f"{label:<22} {r['case']:<30} {r['queries']:>3}/{big['queries']:<3}  "
            f"{p_small:>8.2f} {p_big:>8.2f} {ratio:>5.2f}×  "
            f"{percentile(r['bare'], 0.95):>12.2f} {percentile(big['bare'], 0.95):>7.2f}  "
            f"{'met' if met else 'MISSED'}"
        )
        if not met:
            problems.append(f"{label} {r['case']}: ratio {ratio:.2f}")
        if big["full_scan"]:
            problems.append(f"{r['case']} at {large:,} scans the whole exam table")
    print("\nIndexes in each page query's plan at 1,000,000 exams:")
    for r in results:
        if r["size"] == large and r["indexes"] != "(its aggregates)":
            print(f"  {r['institution']:<8} {r['case']:<30} {r['indexes']}")
    print(f"Total time {seconds:.0f} s.")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


def main_100k() -> int:
    started = time.monotonic()
    try:
        with seeded_postgres() as (pg, seeded):
            import psycopg

            with psycopg.connect(pg.url, autocommit=True) as bare:
                results, problems = run_cases(bare, seeded)
    except PostgresUnavailable as e:
        print(f"cannot run: {e}")
        return 1
    report(results, time.monotonic() - started)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
