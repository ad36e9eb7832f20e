"""Benchmark: the Clarius webhook under concurrent load, and notification → exam ready.

Run ``python bench/bench_webhook.py`` from the repository root (``make bench`` does). It
starts a throwaway PostgreSQL, Redis if installed, the Clarius sandbox (in this process,
with a linked and confirmed user) and gunicorn (``bench.settings``: the portal plus
``bench/bare/`` and ``bench/insert/``), on loopback only, and tears it all down at the
end, on an error or on Ctrl-C. For each task broker (django-q2's ORM broker, then Redis),
on a fresh gunicorn:

1. **Throughput.** ``wrk`` (or Python processes) posts the same notification (a unique
   ``request_uuid`` each, for a confirmed link: a *pending* receipt stored and its fetch
   enqueued; no worker runs) to ``bench/bare/``, ``bench/insert/`` and the webhook in
   alternating rounds after a warm-up. Reported: requests/s, p50/p99 latency of the median
   round, CPU ms per request (gunicorn, PostgreSQL, client), the webhook/insert ratio
   against its target (0.8) and the webhook's p99 against its target (25 ms); then the
   stored receipts (each its own queue entry) and queued tasks are counted against the
   acknowledgements.
2. **End to end.** With a ``qcluster`` worker, the sandbox uploads 5-capture exams and
   notifies the webhook; the time from the upload until the exam is *ready* is measured,
   after one untimed warm-up exam.

Exit status 0 when the run completed (the verdict is printed); 1 if it failed; ``--strict``
also exits 1 below the target. ``--help`` lists the knobs; ``bench/README.md`` more.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

# Run as a script, this folder comes first on sys.path; its modules (bench/settings.py,
# bench/urls.py, bench/lib/) must only ever be imported as bench.<name>.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.lib import BenchError, clarius, django_setup, load, processes  # noqa: E402
from bench.lib.meters import CpuMeter  # noqa: E402
from bench.lib.pg import TempPostgres  # noqa: E402
from bench.lib.report import NAN, Column, Table, log, median_or_nan  # noqa: E402

TARGET = 0.8  # webhook throughput / durable-insert-view throughput
P99_TARGET_MS = 25.0  # the webhook's p99 latency at CONNECTIONS connections
DURATION = 9.0  # seconds of measured load per endpoint
ROUNDS = 3  # ... in this many alternating bare/webhook rounds
WARMUP = 2.0  # seconds of unmeasured load per endpoint first
EXAMS = 5
CAPTURES, VIDEOS = 4, 1  # a 5-capture exam
EXAM_TIMEOUT = 45.0  # seconds for one exam to become ready
DB_POLL = 0.05
SUBMITTED_AT = "2025-01-02T03:04:05.678901Z"


@dataclass
class Setup:
    """What every broker configuration shares."""

    tmp: Path
    logs: Path
    sandbox: object
    user: object  # the sandbox's linked user, for the end-to-end exams
    client: str  # the load generator: wrk or python
    secret: str  # the webhook's URL secret
    load_token: str  # the customer id of the throughput run's notifications
    postmaster_pid: int | None
    body: load.Body


def throughput(label: str, gunicorn, base: str, redis_url, setup: Setup, args) -> dict:
    """Bare, insert and webhook endpoints in alternating rounds; the receipts checked."""
    endpoints = {
        "bare": "/bench/bare/",
        "insert": "/bench/insert/",
        "webhook": f"/clarius/notifications/{setup.secret}/",
    }
    generator = load.Load(setup.client, base, setup.body, setup.tmp)
    log(f"{label}: gunicorn {base} ({args.server}); warming up")
    for path in endpoints.values():
        generator.run(path, WARMUP)
    clarius.settle(setup.load_token, redis_url)
    clarius.clear_load(setup.load_token, redis_url)
    before = clarius.queued_tasks(redis_url)
    meter = CpuMeter(gunicorn.process.pid, setup.postmaster_pid)
    log(
        f"{label}: {args.duration:.0f}s of load on each endpoint "
        f"({args.rounds} alternating rounds), {load.CONNECTIONS} connections"
    )
    rounds = generator.alternate(endpoints, args.rounds, args.duration / args.rounds, meter)
    result = {name: load.combine(measured) for name, measured in rounds.items()}
    result["round_ratios"] = [
        w["rps"] / i["rps"] for i, w in zip(rounds["insert"], rounds["webhook"], strict=True)
    ]
    if not gunicorn.alive():
        raise gunicorn.failure("gunicorn died under load")
    for name in endpoints:
        if result[name]["errors"]:
            log(f"{label}: {name} had errors: {result[name]['error_detail']}")
    stored, queued = clarius.settle(setup.load_token, redis_url)
    result["stored"] = stored
    result["queued"] = queued - before
    clarius.check_stored(label, stored, result["webhook"]["requests"] - result["webhook"]["errors"])
    clarius.clear_load(setup.load_token, redis_url)
    return result


def end_to_end(label: str, env: dict, base: str, setup: Setup, stack: ExitStack, args) -> list:
    """With a qcluster worker: a warm-up exam, then ``args.exams`` timed ones."""
    command = [sys.executable, "manage.py", "qcluster"]
    worker = processes.Child(
        f"qcluster-{label}", command, {**env, "PORTAL_BASE_URL": base}, setup.logs
    )
    stack.callback(worker.stop)
    exam = {"captures": CAPTURES, "videos": VIDEOS, "timeout": EXAM_TIMEOUT, "poll": DB_POLL}
    try:
        clarius.register_webhook(setup.sandbox, f"{base}/clarius/notifications/{setup.secret}/")
        log(f"{label}: worker started; a warm-up exam, then {args.exams} timed exams")
        clarius.one_exam(setup.sandbox, setup.user, **exam)  # imports, connections, clips
        exams = []
        for _ in range(args.exams):
            if not worker.alive():
                raise worker.failure("the qcluster worker exited")
            exams.append(clarius.one_exam(setup.sandbox, setup.user, **exam))
        return exams
    except BenchError as e:
        raise BenchError(f"{e}\nlast lines of the worker's output:\n{worker.tail()}") from e
    finally:
        worker.stop()


def run_config(label: str, env: dict, redis_url, setup: Setup, stack: ExitStack, args) -> dict:
    """One task broker, on a fresh gunicorn: throughput, then end to end."""
    gunicorn, base = processes.start_gunicorn(
        args.app, env, setup.logs, f"gunicorn-{label}", workers=args.workers, threads=args.threads
    )
    stack.callback(gunicorn.stop)
    try:
        result = {"label": label, **throughput(label, gunicorn, base, redis_url, setup, args)}
        if args.exams > 0:
            result["exams"] = end_to_end(label, env, base, setup, stack, args)
    finally:
        gunicorn.stop()
    return result


LOAD_TABLE = Table(
    Column("broker", 7, left=True),
    Column("endpoint", 8, left=True),
    Column("req/s", 8, ".0f"),
    Column("p50 ms", 7, ".1f"),
    Column("p99 ms", 7, ".1f"),
    Column("errors", 6),
    Column("CPU ms/request: gunicorn", 24, ".2f", gap=2),
    Column("postgres", 8, ".2f"),
    Column("client", 6, ".2f"),
)
EXAM_TABLE = Table(
    Column("broker", 7, left=True),
    Column("median s", 9, ".2f"),
    Column("max s", 7, ".2f"),
    Column("ack s", 7, ".2f"),
    Column("fetched s", 10, ".2f"),
)


def report(results: list[dict], client: str, args) -> bool:
    print()
    database = "SQLite" if args.engine == "sqlite" else "PostgreSQL"
    print(
        f"webhook vs durable-insert and bare Django views: gunicorn {args.server} + "
        f"{database} ({'fsync off' if args.no_fsync else 'fsync on'}), {os.cpu_count()} CPUs, "
        f"load generator {client}, {load.CONNECTIONS} connections, {args.duration:.0f}s each "
        f"in {args.rounds} alternating rounds (latency: the median round's)"
    )
    print(LOAD_TABLE.header())
    for r in results:
        for name in ("bare", "insert", "webhook"):
            m, cpu = r[name], r[name]["cpu_ms"]
            print(
                LOAD_TABLE.row(
                    r["label"], name, m["rps"], m["p50_ms"], m["p99_ms"], m["errors"],
                    cpu.get("server", NAN), cpu.get("db", NAN), cpu.get("client", NAN),
                )
            )  # fmt: skip
    timed = [r for r in results if "exams" in r]
    if timed:
        print()
        print(
            f"notification -> exam ready, {CAPTURES + VIDEOS}-capture exam "
            f"({CAPTURES} images + {VIDEOS} clip), {args.exams} exams after a warm-up"
        )
        print(EXAM_TABLE.header() + "   (ack, fetched: medians since upload)")
        for r in timed:
            exams = r["exams"]
            r["e2e_median"] = statistics.median(e["seconds"] for e in exams)
            r["e2e_max"] = max(e["seconds"] for e in exams)
            acks = median_or_nan(e["received"] for e in exams)
            fetched = median_or_nan(e["fetched"] for e in exams)
            print(EXAM_TABLE.row(r["label"], r["e2e_median"], r["e2e_max"], acks, fetched))
    print()
    met = True
    for r in results:
        label, bare, insert, webhook = r["label"], r["bare"], r["insert"], r["webhook"]
        ratio = webhook["rps"] / insert["rps"]
        fast = webhook["p99_ms"] < P99_TARGET_MS
        ok = ratio >= TARGET and fast
        met &= ok
        spread = f"rounds {min(r['round_ratios']):.2f}-{max(r['round_ratios']):.2f}"
        print(f"{label}: webhook acks/s: {webhook['rps']:.0f} (bare view {bare['rps']:.0f} req/s)")
        print(
            f"{label}: webhook p50/p99 ms: {webhook['p50_ms']:.1f}/{webhook['p99_ms']:.1f} "
            f"(bare view {bare['p50_ms']:.1f}/{bare['p99_ms']:.1f}), "
            f"p99 target < {P99_TARGET_MS:.0f} ms at {load.CONNECTIONS} connections: "
            f"{'met' if fast else 'NOT met'}"
        )
        print(
            f"{label}: webhook/durable-insert view throughput: {ratio:.2f} ({spread}), "
            f"target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'} "
            f"(that view: {insert['rps']:.0f} req/s, p99 {insert['p99_ms']:.1f} ms)"
        )
        print(f"{label}: webhook/bare view throughput: {webhook['rps'] / bare['rps']:.2f}")
        print(
            f"{label}: receipts stored {sum(r['stored'].values())} (all pending: each its own "
            "queue entry), "
            f"fetch tasks queued {r['queued']}, for {webhook['requests']} acknowledged"
        )
        if "e2e_median" in r:
            print(
                f"{label}: notification -> exam ready ({CAPTURES + VIDEOS} captures): "
                f"median {r['e2e_median']:.2f}s, max {r['e2e_max']:.2f}s over {args.exams} exams"
                + (" (the ORM broker polls every 0.5 s when idle)" if label == "orm" else "")
            )
    verdict = "met" if met else "NOT met"
    consequence = " (--strict: exit 1)" if args.strict and not met else " (exit status 0)"
    print(
        f"targets webhook/durable-insert >= {TARGET} and p99 < {P99_TARGET_MS:.0f} ms: "
        f"{verdict}{consequence}"
    )
    return met


def start(stack: ExitStack, args, client: str) -> tuple[Setup, list[tuple]]:
    """PostgreSQL, Redis, the sandbox, the database migrated and seeded; the broker
    configurations to run, as (label, environment, Redis URL)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    stack.callback(shutil.rmtree, tmp, ignore_errors=True)
    logs = Path(args.log_dir).resolve() if args.log_dir else tmp
    logs.mkdir(parents=True, exist_ok=True)
    if args.engine == "sqlite":
        database_url, postmaster_pid, where = f"sqlite:///{tmp / 'bench.sqlite3'}", None, "SQLite"
    else:
        log("starting PostgreSQL")
        pg = TempPostgres(durable=not args.no_fsync)
        stack.callback(pg.stop)
        pg.start()
        database_url, postmaster_pid = pg.url, pg.postmaster_pid()
        where = f"PostgreSQL on port {pg.port}"
    redis_url = None
    if args.broker in ("all", "redis"):
        started = processes.start_redis(tmp, logs)
        if started:
            redis_child, redis_url = started
            stack.callback(redis_child.stop)
        elif args.broker == "redis":
            raise BenchError("redis-server is not installed")
        else:
            log("redis-server not installed: measuring the ORM broker only")

    from clarius_sandbox import Sandbox  # the project's Clarius simulator

    sandbox = Sandbox().start()
    stack.callback(sandbox.stop)
    env = processes.clean_env(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DJANGO_DEBUG="1",
        DJANGO_LOG_LEVEL="WARNING",
        DATABASE_URL=database_url,
        PORTAL_MEDIA_ROOT=str(tmp / "media"),
        **clarius.sandbox_env(sandbox),
    )
    log(f"{where}; migrating")
    django_setup.with_env(env)
    user = sandbox.add_user("Bench Clinician")
    clarius.confirm_at_sandbox(sandbox, user.customer_token)
    seeded = clarius.seed_links(user.customer_token)
    token = seeded["load_token"]
    body = clarius.notification(token, sandbox.api_url, SUBMITTED_AT)
    setup = Setup(tmp, logs, sandbox, user, client, seeded["secret"], token, postmaster_pid, body)
    configs = []
    if args.broker in ("all", "orm"):
        configs.append(("orm", env, None))
    if redis_url:
        configs.append(("redis", {**env, "REDIS_URL": redis_url}, redis_url))
    return setup, configs


def parse(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--duration", type=float, default=DURATION, help="seconds per endpoint")
    add("--exams", type=int, default=EXAMS, help="timed exams per broker")
    add("--rounds", type=int, default=ROUNDS, help="alternating bare/webhook rounds")
    add("--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn workers")
    add("--threads", type=int, default=1, help="threads per worker (>1: gthread workers)")
    add("--client", choices=("auto", "wrk", "python"), default="auto")
    add("--broker", choices=("all", "orm", "redis"), default="all")
    add("--no-fsync", action="store_true", help="PostgreSQL without fsync (not crash-safe)")
    add(
        "--engine",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="the database: a throwaway PostgreSQL, or SQLite (the embedded default)",
    )
    add("--strict", action="store_true", help="exit 1 below the target")
    add(
        "--app",
        default="portal.wsgi:application",
        help="the WSGI application gunicorn serves (to try a variant of the portal)",
    )
    add("--log-dir", help="keep gunicorn's, the worker's and Redis' output here")
    args = parser.parse_args(argv)
    args.server = processes.gunicorn_description(args.workers, args.threads)
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    client = load.pick_client(args.client)
    if client is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 1
    processes.handle_signals()
    results: list[dict] = []
    with ExitStack() as stack:
        try:
            setup, configs = start(stack, args, client)
            for label, env, redis_url in configs:
                results.append(run_config(label, env, redis_url, setup, stack, args))
        except BenchError as e:
            print(f"FAIL: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted: tearing down", file=sys.stderr)
            return 130
        finally:
            processes.ignore_signals()
            log("tearing down")
            django_setup.close_connections()
    met = report(results, client, args)
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
