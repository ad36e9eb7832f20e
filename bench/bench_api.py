"""Benchmark: the API's exam list with an API key, at 100,000 exams over 200 institutions.

Run ``python bench/bench_api.py`` from the repository root (``make bench`` does). It sets
everything up itself and removes it at the end, on an error or on Ctrl-C:

1. a throwaway PostgreSQL, migrated and seeded as for ``bench_worklist.py`` (200
   institutions of 7 members, 100,000 exams with their patients, skewed: about 7,000 in
   the largest institution, about 250 in the smallest; ``bench/lib/pages.py``);
2. for the largest, a middle-sized and the smallest institution, a read key acting as a
   reviewer (``portal.api.keys.create_key``) lists exams through Django's test ``Client``
   in-process, ``Authorization: Bearer cpk_...`` (authentication, throttle, tenancy, the
   ORM, the serializer, JSON; ``DEBUG`` off): ``GET /api/v1/exams/`` at page sizes 50
   and 200, pages 1, 2 and a deep page (page ``DEEP`` or the last, reached by following
   the ``next`` links), a filter and a sort, ``RUNS`` times each after a warm-up;
3. the same run times the page's own ``SELECT`` (the SQL the ORM sent for the page:
   same ``WHERE``, ``ORDER BY`` and ``LIMIT``) on a bare psycopg connection: the
   baseline. For comparison, each institution's HTML worklist (a session, 50 a page) is
   measured the same way.

Printed for every case: queries per request, request p50 and p95, bare-SQL p50 and p95,
the ratios of the medians and of the p95s, and the indexes in the page query's plan.
Target: the same number of queries in every API case (whatever the page size, position,
filter or sort); exit status 1 if not, or if a page query scans the whole exam table.
The ratios have no target: they are printed next to the worklist's, measured in the
same run.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
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
    measure,
    page_query,
    plan_summary,
    reviewer_of,
    seeded_postgres,
)
from bench.lib.pg import PostgresUnavailable  # noqa: E402
from bench.lib.report import Column, Table, log, percentile  # noqa: E402

URL = "/api/v1/exams/"
SIZES = (50, 200)
DEEP = 20  # the deep page, or the last one if there are fewer
# The per-key throttle (600 a minute by default) would refuse the benchmark's requests;
# it still counts them (Django's cache), only its limit is out of reach.
RATE = "100000000/min"
WORKLIST_ROW = 'data-label="Patient"'
TABLE_NAME = re.compile(r'(?:FROM|UPDATE|INTO) "([^"]+)"')


def is_key_touch(sql: str) -> bool:
    """The key's last-use UPDATE (``portal.api.keys.touch``, at most once a minute)."""
    return sql.startswith('UPDATE "api_apikey"')


def api_rows(response) -> int:
    return len(response.json()["results"])


def worklist_rows(response) -> int:
    return response.content.decode().count(WORKLIST_ROW)


def read_key(seeded, institution_id: int) -> str:
    """A new read key acting as the institution's first reviewer; its full text."""
    from portal.api import keys
    from portal.tenants.models import Membership

    membership = Membership.objects.select_related("institution", "user").get(
        institution_id=institution_id, user=reviewer_of(seeded, institution_id)
    )
    _key, text = keys.create_key(membership, name="bench", scope="read")
    return text


def follow(client, url: str, pages: int, headers: dict) -> tuple[str, int]:
    """The URL of page ``pages`` from ``url`` by the ``next`` links (or of the last page),
    and its number."""
    number = 1
    while number < pages:
        following = client.get(url, headers=headers).json()["next"]
        if not following:
            break
        url, number = following, number + 1
    return url, number


def api_cases(client, headers: dict) -> list[tuple[str, str]]:
    """(name, URL) of one institution's cases."""
    cases = []
    for size in SIZES:
        first = f"{URL}?page_size={size}"
        second, _ = follow(client, first, 2, headers)
        deep, number = follow(client, first, DEEP, headers)
        cases += [(f"page 1 ({size})", first), (f"page 2 ({size})", second)]
        if number > 2:
            last = "" if number == DEEP else ", last"
            cases.append((f"page {number} ({size}{last})", deep))
    return [
        *cases,
        ("state: new (50)", f"{URL}?page_size=50&review_state=new"),
        ("sort: patient (50)", f"{URL}?page_size=50&sort=patient"),
    ]


def run_cases(bare, seeded) -> tuple[list[dict], list[str]]:
    from django.test import Client

    results, problems = [], []
    for institution_id, exam_count in chosen(seeded):
        where = f"{exam_count} exams"
        headers = {"Authorization": f"Bearer {read_key(seeded, institution_id)}"}
        client = Client()  # no session: the key alone
        cases = api_cases(client, headers)
        log(f"{where}: {len(cases)} API cases and the worklist's first page")
        for name, url in cases:
            result = measure(
                client, bare, url, lambda q: [page_query(q)], api_rows, skip=is_key_touch,
                **headers,
            )  # fmt: skip
            result["indexes"], full_scan = plan_summary(bare, result["sql"][0])
            if full_scan:
                problems.append(f"{name} at {exam_count} exams scans the whole exam table")
            results.append({"institution": where, "case": name, "api": True, **result})
        # For comparison only: the HTML worklist's first page of 50, with a session.
        browser = Client()
        browser.force_login(reviewer_of(seeded, institution_id))
        result = measure(
            browser, bare, "/worklist/?size=50", lambda q: [page_query(q)], worklist_rows
        )
        result["indexes"], _ = plan_summary(bare, result["sql"][0])
        results.append({"institution": where, "case": "worklist HTML p. 1 (50)", **result})
    counts = {r["queries"] for r in results if r.get("api")}
    if len(counts) != 1:
        varying = ", ".join(
            f"{r['institution']} {r['case']}: {r['queries']}" for r in results if r.get("api")
        )
        problems.append(f"queries per request vary between API cases: {varying}")
    return results, problems


TABLE = Table(
    Column("institution", 12, left=True),
    Column("case", 24, left=True),
    Column("rows", 4),
    Column("queries", 7),
    Column("request p50", 11, ".2f", gap=2),
    Column("p95", 7, ".2f"),
    Column("bare p50", 8, ".2f", gap=2),
    Column("p95", 6, ".2f"),
    Column("p50/bare", 8, ".1f", gap=2, suffix="×"),
    Column("p95/bare", 8, ".1f", suffix="×"),
)


def ratios(r) -> tuple[float, float]:
    """Request over bare SQL: of the medians, and of the p95s."""
    return (
        statistics.median(r["render"]) / statistics.median(r["bare"]),
        percentile(r["render"], 0.95) / percentile(r["bare"], 0.95),
    )


def spread(values) -> str:
    return f"{min(values):.1f}×–{max(values):.1f}× (median {statistics.median(values):.1f}×)"


def tables_of(result) -> str:
    """What each query of a request reads: its first table, or the page."""
    return ", ".join(
        "the page"
        if sql in result["sql"]
        else (m.group(1) if (m := TABLE_NAME.search(sql)) else "?")
        for sql in result["all_sql"]
    )


def report(results, seconds) -> None:
    print(
        f"\nExam list through the API with a read key (Bearer), {RUNS} requests per case "
        "after a warm-up; times in ms."
    )
    print(
        "Target: the same queries per request in every API case, whatever the page size, "
        "position, filter or sort (exit 1 otherwise).\nNo target for the ratios: compare "
        "them with the HTML worklist's (a session, 50 a page), measured in this run."
    )
    print("bare = the page's own SELECT (same WHERE, ORDER BY, LIMIT), plain psycopg")
    header = TABLE.header()
    print(header)
    print("-" * len(header))
    for r in results:
        p50, p95 = ratios(r)
        print(
            TABLE.row(
                r["institution"], r["case"], r["rows"], r["queries"],
                statistics.median(r["render"]), percentile(r["render"], 0.95),
                statistics.median(r["bare"]), percentile(r["bare"], 0.95), p50, p95,
            )
        )  # fmt: skip
    print("\nIndexes in each page query's plan:")
    for r in results:
        print(f"  {r['institution']:<12} {r['case']:<24} {r['indexes']}")
    api = [r for r in results if r.get("api")]
    worklist = [r for r in results if not r.get("api")]
    requests = [t for r in api for t in r["render"]]
    bares = [t for r in api for t in r["bare"]]
    print(
        f"\nAll API cases: request p50 {statistics.median(requests):.2f} ms, "
        f"p95 {percentile(requests, 0.95):.2f} ms; "
        f"bare SELECT p50 {statistics.median(bares):.2f} ms, "
        f"p95 {percentile(bares, 0.95):.2f} ms"
    )
    for label, rows in (("API", api), ("worklist HTML (50 a page)", worklist)):
        print(
            f"{label}: request/bare of the medians {spread([ratios(r)[0] for r in rows])}; "
            f"of the p95s {spread([ratios(r)[1] for r in rows])}"
        )
    counts = sorted({r["queries"] for r in api})
    print(
        f"API queries per request: {', '.join(map(str, counts))} "
        f"({tables_of(api[0])}); the key's last-use UPDATE comes on top at most "
        f"once a minute. Total time {seconds:.0f} s."
    )


def main() -> int:
    started = time.monotonic()
    try:
        with seeded_postgres(PORTAL_API_KEY_RATE=RATE) as (pg, seeded):
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
