"""Pages of exams at 100,000 exams timed in-process, against their own SQL on bare psycopg.

What ``bench_worklist.py`` (the HTML worklist) and ``bench_api.py`` (the API's exam list)
share: the seeded PostgreSQL they start from (``seeded_postgres``), the institutions they
pick (``chosen``), one case measured (``measure``: the request's queries, then ``runs``
requests through Django's test ``Client`` and ``runs`` executions of the page's own SQL on
a bare connection), the page's ``SELECT`` among a request's queries (``page_query``) and
the indexes in its plan (``plan_summary``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

from bench.lib import django_setup, seed
from bench.lib.pg import TempPostgres

INSTITUTIONS = 200
EXAMS = 100_000
RUNS = 25


@contextmanager
def seeded_postgres(institutions: int = INSTITUTIONS, exams: int = EXAMS, **environ: str):
    """A throwaway PostgreSQL (fsync off), Django in this process on it (``environ``: more
    portal settings), migrated and seeded by ``seed.many_exams``; yields ``(pg, seeded)``
    and stops the server at the end. ``PostgresUnavailable`` if it cannot start."""
    started = time.monotonic()
    pg = TempPostgres(durable=False).start()
    try:
        print(f"PostgreSQL on 127.0.0.1:{pg.port} ({pg.root})", flush=True)
        django_setup.in_process(pg.url, **environ)
        django_setup.migrate()
        print(f"migrated in {time.monotonic() - started:.1f} s", flush=True)
        seeding = time.monotonic()
        seeded = seed.many_exams(institutions, exams)
        biggest, smallest = seeded["sizes"][0][1], seeded["sizes"][-1][1]
        print(
            f"seeded {exams:,} exams and patients over {institutions} institutions "
            f"({smallest}–{biggest} each) in {time.monotonic() - seeding:.1f} s",
            flush=True,
        )
        yield pg, seeded
    finally:
        django_setup.close_connections()
        pg.stop()


def chosen(seeded) -> list[tuple[int, int]]:
    """(institution id, exam count) of the largest, a middle and the smallest institution."""
    sizes = seeded["sizes"]
    return [sizes[0], sizes[len(sizes) // 2], sizes[-1]]


def reviewer_of(seeded, institution_id: int):
    """The institution's first reviewer (a user)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=seeded["staff"][institution_id]["reviewers"][0])


def days_ago(days: int) -> str:
    """The ISO date ``days`` before today (the portal's time zone)."""
    from django.utils import timezone

    return (timezone.localdate() - timedelta(days=days)).isoformat()


def page_query(captured: list[str]) -> str:
    """The page's own SELECT among a request's queries (the one on exams with a LIMIT;
    the worklist's capped total, a COUNT over a LIMIT, is not it)."""
    pages = [
        sql
        for sql in captured
        if 'FROM "exams_exam"' in sql and "LIMIT" in sql and not sql.startswith("SELECT COUNT(")
    ]
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


def timed(function, runs: int = RUNS) -> list[float]:
    """Milliseconds of ``runs`` calls of ``function``, after one warm-up call (caches, the
    plan, the template)."""
    function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def captured_request(client, url: str, skip: Callable[[str], bool] | None = None, **headers):
    """The response to one GET and the SQL it sent. With ``skip``, a request that sent a
    statement ``skip`` matches (an occasional write, such as a key's once-a-minute last
    use) is made again: the count is that of the ordinary request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _attempt in range(3):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, headers=headers)
        # Read now: the next request resets the connection's query log.
        queries = [q["sql"] for q in captured.captured_queries]
        if skip is None or not any(skip(sql) for sql in queries):
            break
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    return response, queries


def measure(
    client,
    bare,
    url: str,
    own_sql: Callable[[list[str]], list[str]],
    count_rows: Callable,
    *,
    runs: int = RUNS,
    skip: Callable[[str], bool] | None = None,
    **headers,
) -> dict:
    """One case: the request's queries (``captured_request``), then ``runs`` requests and
    ``runs`` executions of ``own_sql(queries)`` (the baseline) on the bare connection.
    Returns ``rows``, ``queries`` (their number), ``all_sql``, ``sql`` (the baseline's),
    and the milliseconds of each run: ``render`` (the requests) and ``bare``."""
    response, queries = captured_request(client, url, skip, **headers)
    sql = own_sql(queries)

    def select():
        with bare.cursor() as cursor:
            for statement in sql:
                cursor.execute(statement)
                cursor.fetchall()

    return {
        "rows": count_rows(response),
        "queries": len(queries),
        "all_sql": queries,
        "sql": sql,
        "render": timed(lambda: client.get(url, headers=headers), runs),
        "bare": timed(select, runs),
    }
