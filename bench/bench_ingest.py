"""Benchmark: notification -> exam ready, and an exam's captures downloaded at once.

Run ``python bench/bench_ingest.py`` from the repository root (``make bench`` does). For
each task broker it starts, in a child process of its own: the Clarius sandbox (in that
process, with a linked and confirmed user), gunicorn and a ``qcluster`` worker
(``bench.settings``), on loopback only, and tears it all down at the end:

- ``orm``: the embedded default, SQLite and django-q2's ORM broker;
- ``redis``: Redis (``REDIS_URL``, or a ``redis-server`` started on a free port) and a
  throwaway PostgreSQL when its server is installed (else SQLite).

1. **Latency.** The sandbox uploads 5-capture exams (4 images, 1 clip) and notifies the
   webhook; the time from the notification until the exam is *ready* is measured, after
   an untimed warm-up exam. The sandbox draws each image before it notifies, so its own
   drawing is not counted. Targets: median <= 0.5 s (ORM broker), <= 0.2 s (Redis).
2. **Concurrent downloads** (ORM broker only). The sandbox's media server paces every
   response (``LATENCY`` before the first byte, then ``BANDWIDTH`` bytes/s per request,
   as one stream from object storage is limited); an exam of 20 captures (15 images, 4
   clips and one ``LARGEST``-byte clip) and an exam of that largest clip alone, in
   alternating rounds. Target: the 20-capture exam ready within 1.5x the largest alone.

Exit status 0 when the run completed (the verdict is printed); 1 if it failed;
``--strict`` also exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.lib import BenchError, clarius, django_setup, processes  # noqa: E402
from bench.lib.report import log  # noqa: E402

TARGETS = {"orm": 0.5, "redis": 0.2}  # seconds, median notification -> ready
RATIO_TARGET = 1.5  # 20-capture exam / its largest capture alone
EXAMS = 7
IMAGES, CLIPS = 4, 1
BIG_IMAGES, BIG_CLIPS = 15, 4  # + the largest: 20 captures
LARGEST = 6_000_000  # bytes
BANDWIDTH = 3_000_000  # bytes/s per response while pacing
LATENCY = 0.05  # seconds before a paced response's first byte
ROUNDS = 3
EXAM_TIMEOUT = 60.0
DB_POLL = 0.02  # the poll only notices; the moment comes from the row (timed_exam)
CHUNK = 64 * 1024


class Pacing:
    """WSGI middleware for the sandbox's media server: when on, each response waits
    ``latency`` and then flows at ``bandwidth`` bytes/s (a stream's own limit)."""

    def __init__(self, app) -> None:
        self.app = app
        self.on = False
        self.bandwidth = BANDWIDTH
        self.latency = LATENCY

    def __call__(self, environ, start_response):
        if not self.on:
            return self.app(environ, start_response)
        time.sleep(self.latency)
        return self.paced(self.app(environ, start_response))

    def paced(self, body):
        started, sent = time.monotonic(), 0
        try:
            for chunk in body:
                for start in range(0, len(chunk), CHUNK):
                    piece = chunk[start : start + CHUNK]
                    sent += len(piece)
                    wait = started + sent / self.bandwidth - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    yield piece
        finally:
            if hasattr(body, "close"):
                body.close()


def pace_media(sandbox) -> Pacing:
    """Put ``Pacing`` in front of the sandbox's media server (it has no knob of its own)."""
    port = int(sandbox.media_origin.rsplit(":", 1)[1])
    server = next(s for s in sandbox._servers if s.server_port == port)
    server.app = Pacing(server.app)
    return server.app


def timed_exam(sandbox, user, *, images: int, clips: int, largest: int | None = None) -> float:
    """Upload an exam without notifying, draw its images, then notify; seconds until ready."""
    from clarius_sandbox.imaging import jpeg_cache

    request = sandbox.upload_exam(
        user, captures=images, videos=clips, capture_size=largest, notify=False
    )
    with sandbox.state.lock:
        captures = [sandbox.state.captures[u] for u in request.capture_uuids]
    for capture in captures:
        if capture.kind == "image":
            jpeg_cache.get(capture.seed)
    started, started_wall = time.monotonic(), time.time()
    sandbox.notifications.notify(request)
    deadline = started + EXAM_TIMEOUT
    while True:
        status, changed = exam_status(request)
        if status == "ready":
            # The moment the worker stored *ready* (the row's last change, in the
            # transaction that made it ready), not when this poll saw it: the poll's
            # period is not the portal's. Never later than the poll that saw it.
            seconds = min(time.monotonic() - started, changed.timestamp() - started_wall)
            PHASES.append(phases(request, started_wall))
            return seconds
        if status == "incomplete" or time.monotonic() > deadline:
            progress = clarius.exam_progress(request)
            if status == "incomplete":
                raise BenchError(f"exam {request.exam_uuid} ended incomplete: {progress}")
            raise BenchError(f"exam not ready after {EXAM_TIMEOUT:.0f}s: {progress}")
        time.sleep(DB_POLL)


def exam_status(request) -> tuple[str | None, object]:
    """The exam's status and its row's last change, in one light query."""
    from portal.exams.models import Exam

    row = Exam.objects.filter(exam_uuid=request.exam_uuid).values_list("status", "updated_at")
    return next(iter(row), (None, None))


PHASES: list[dict] = []


def phases(request, started_wall: float) -> dict:
    """When the receipt was stored and fetched, and the captures claimed and done, in
    seconds since the notification (the last of each)."""
    from django.db.models import Max, Min

    from integrations.clarius.models import NotificationReceipt
    from portal.exams.models import Capture

    receipt = NotificationReceipt.objects.filter(request_uuid=request.request_uuid).first()
    captures = Capture.objects.filter(submission__request_uuid=request.request_uuid).aggregate(
        first_claim=Min("last_attempt_at"), last_done=Max("downloaded_at")
    )

    def since(moment) -> float | None:
        return round(moment.timestamp() - started_wall, 3) if moment else None

    return {
        "stored": since(receipt and receipt.received_at),
        "fetched": since(receipt and receipt.fetched_at),
        "first_capture_claimed": since(captures["first_claim"]),
        "last_capture_done": since(captures["last_done"]),
    }


def one_broker(label: str, args) -> dict:
    """Everything for one broker, in this (child) process; the figures as a dict."""
    result: dict = {"label": label}
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-ingest-{label}-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        logs = Path(args.log_dir).resolve() if args.log_dir else tmp
        logs.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{tmp / 'portal.sqlite3'}"
        extra = {}
        result["database"] = "SQLite"
        if label == "redis":
            redis_url = os.environ.get("REDIS") or os.environ.get("BENCH_REDIS_URL")
            if not redis_url:
                started = processes.start_redis(tmp, logs)
                if not started:
                    raise BenchError("redis-server is not installed (or give REDIS=redis://...)")
                child, redis_url = started
                stack.callback(child.stop)
            extra["REDIS_URL"] = redis_url
            try:
                from bench.lib.pg import PostgresUnavailable, TempPostgres

                pg = TempPostgres(durable=True)
                stack.callback(pg.stop)
                pg.start()
                database_url, result["database"] = pg.url, "PostgreSQL"
            except (PostgresUnavailable, OSError, BenchError) as e:
                log(f"{label}: no PostgreSQL ({e}); on SQLite")

        from clarius_sandbox import Sandbox

        sandbox = Sandbox().start()
        stack.callback(sandbox.stop)
        pacing = pace_media(sandbox)
        env = processes.clean_env(
            DJANGO_SETTINGS_MODULE="bench.settings",
            DJANGO_DEBUG="1",
            DJANGO_LOG_LEVEL="WARNING",
            DATABASE_URL=database_url,
            PORTAL_MEDIA_ROOT=str(tmp / "media"),
            **extra,
            **clarius.sandbox_env(sandbox),
        )
        log(f"{label}: migrating ({result['database']})")
        django_setup.with_env(env)
        stack.callback(django_setup.close_connections)
        user = sandbox.add_user("Bench Clinician")
        clarius.confirm_at_sandbox(sandbox, user.customer_token)
        seeded = clarius.seed_links(user.customer_token)
        web, base = processes.start_gunicorn(
            "portal.wsgi:application", env, logs, f"gunicorn-{label}", workers=2, threads=1
        )
        stack.callback(web.stop)
        worker = processes.Child(
            f"qcluster-{label}",
            [sys.executable, "manage.py", "qcluster"],
            {**env, "PORTAL_BASE_URL": base},
            logs,
        )
        stack.callback(worker.stop)
        clarius.register_webhook(sandbox, f"{base}/clarius/notifications/{seeded['secret']}/")
        try:
            log(f"{label}: a warm-up exam, then {args.exams} timed {IMAGES + CLIPS}-capture exams")
            timed_exam(sandbox, user, images=IMAGES, clips=CLIPS)
            PHASES.clear()
            result["latency"] = [
                timed_exam(sandbox, user, images=IMAGES, clips=CLIPS) for _ in range(args.exams)
            ]
            result["phases"] = {
                key: statistics.median(p[key] for p in PHASES if p[key] is not None)
                for key in PHASES[0]
                if any(p[key] is not None for p in PHASES)
            }
            if label == "orm" and args.rounds > 0:
                pacing.on = True
                log(
                    f"{label}: {args.rounds} rounds of a {BIG_IMAGES + BIG_CLIPS + 1}-capture "
                    f"exam and its largest capture alone, media paced"
                )
                timed_exam(sandbox, user, images=0, clips=0, largest=args.largest)  # warm-up
                alone, whole = [], []
                for _ in range(args.rounds):
                    alone.append(timed_exam(sandbox, user, images=0, clips=0, largest=args.largest))
                    whole.append(
                        timed_exam(
                            sandbox, user, images=BIG_IMAGES, clips=BIG_CLIPS, largest=args.largest
                        )
                    )
                result["alone"], result["whole"] = alone, whole
        except BenchError as e:
            raise BenchError(f"{e}\nlast lines of the worker's output:\n{worker.tail()}") from e
    return result


def report(results: list[dict], args) -> bool:
    met = True
    print()
    print(
        f"notification -> exam ready, {IMAGES + CLIPS}-capture exam ({IMAGES} images + "
        f"{CLIPS} clip), {args.exams} exams after a warm-up, {os.cpu_count()} CPUs"
    )
    for r in results:
        median = statistics.median(r["latency"])
        target = TARGETS[r["label"]]
        ok = median <= target
        met &= ok
        print(
            f"{r['label']} ({r['database']}): median {median:.3f}s, min {min(r['latency']):.3f}s, "
            f"max {max(r['latency']):.3f}s; target <= {target}s: {'met' if ok else 'NOT met'}"
        )
        print(
            f"{r['label']}: medians since the notification: "
            + ", ".join(f"{k.replace('_', ' ')} {v:.3f}s" for k, v in r["phases"].items())
        )
    for r in results:
        if "whole" not in r:
            continue
        alone, whole = statistics.median(r["alone"]), statistics.median(r["whole"])
        ratio = whole / alone
        ok = ratio <= RATIO_TARGET
        met &= ok
        print()
        print(
            f"concurrent downloads ({r['label']}, {r['database']}): media paced at "
            f"{BANDWIDTH / 1e6:.1f} MB/s per response after {LATENCY * 1000:.0f} ms; "
            f"median of {args.rounds} rounds"
        )
        print(
            f"{r['label']}: largest capture ({args.largest / 1e6:.1f} MB) alone: {alone:.2f}s; "
            f"{BIG_IMAGES + BIG_CLIPS + 1}-capture exam ({BIG_IMAGES} images, {BIG_CLIPS} clips "
            f"and that one): {whole:.2f}s"
        )
        print(
            f"{r['label']}: 20-capture exam / largest alone: {ratio:.2f}, target <= "
            f"{RATIO_TARGET}: {'met' if ok else 'NOT met'}"
        )
    return met


def parse(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--broker", choices=("all", "orm", "redis"), default="all")
    add("--exams", type=int, default=EXAMS, help="timed 5-capture exams per broker")
    add("--rounds", type=int, default=ROUNDS, help="rounds of the concurrent-download case")
    add("--largest", type=int, default=LARGEST, help="bytes of the largest capture")
    add("--strict", action="store_true", help="exit 1 when a target is missed")
    add("--log-dir", help="keep gunicorn's and the worker's output here")
    add("--one", choices=("orm", "redis"), help=argparse.SUPPRESS)  # a child's own broker
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    processes.handle_signals()
    if args.one:  # the child: one broker, its figures as JSON on the last line
        try:
            print(json.dumps(one_broker(args.one, args)))
        except BenchError as e:
            print(f"FAIL: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
        finally:
            processes.ignore_signals()
        return 0
    brokers = ["orm", "redis"] if args.broker == "all" else [args.broker]
    if (
        args.broker == "all"
        and not shutil.which("redis-server")
        and not (os.environ.get("REDIS") or os.environ.get("BENCH_REDIS_URL"))
    ):
        log("redis-server not installed: the ORM broker only")
        brokers = ["orm"]
    results = []
    for label in brokers:
        command = [sys.executable, __file__, "--one", label, *argv]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
        figures = None
        try:
            for line in child.stdout:  # its progress lines shown as they come
                if line.startswith("{"):
                    figures = json.loads(line)
                else:
                    print(line, end="", flush=True)
            child.wait()
        except KeyboardInterrupt:
            # A SIGTERM reaches only this process: the child tears its servers down itself.
            print("interrupted: stopping the run", file=sys.stderr)
            processes.ignore_signals()
            child.terminate()
            child.wait(60)
            return 130
        if child.returncode or figures is None:
            print(f"FAIL: {label} exited {child.returncode}", file=sys.stderr)
            return 1
        results.append(figures)
    met = report(results, args)
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
