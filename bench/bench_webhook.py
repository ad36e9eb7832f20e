"""Benchmark: the Clarius webhook under concurrent load, and notification → exam ready.

Run ``python bench/bench_webhook.py`` from the repository root (``make bench`` does). It
sets everything up itself, on loopback only, and tears it all down at the end, on an
error or on Ctrl-C:

* a throwaway PostgreSQL (``bench/pgtemp.py``), migrated; a throwaway Redis when
  ``redis-server`` is installed;
* the Clarius sandbox (in this process), with a linked and confirmed user;
* gunicorn (sync workers, ``DJANGO_SETTINGS_MODULE=bench.settings``: the portal plus a
  bare view at ``bench/bare/`` that reads the body and answers 202).

For each task broker (django-q2's ORM broker, then Redis if available), on a fresh
gunicorn:

1. **Throughput.** The same load generator (``wrk`` if installed, else Python processes
   with ``http.client``: ``--client``), 16 connections and the same JSON body (a unique
   ``request_uuid`` per request, for a confirmed link, so each call stores a *pending*
   receipt and enqueues its fetch after the commit) hit ``bench/bare/`` and the webhook
   in alternating rounds (3 × 3 s each, after 2 s of warm-up), so a noisy moment on a
   shared machine hits both. No worker runs: nothing is fetched. Reported: requests/s
   over all rounds, p50 and p99 latency of the median round, CPU milliseconds per request
   spent by gunicorn, PostgreSQL and the load generator, and the webhook/bare throughput
   ratio (target: at least 0.5). Afterwards the stored receipts and queued tasks are
   counted against the acknowledgements.
2. **End to end.** A ``qcluster`` worker starts; the sandbox uploads exams of 5
   captures (4 images, 1 video clip) and notifies the webhook; the time from
   ``upload_exam`` until the exam's row is *ready* (polled every 50 ms) is measured for
   each, after one untimed warm-up exam. The ORM broker polls its table once a second
   (``Q_CLUSTER["poll"]``) when idle, and an exam takes two hops through the queue
   (fetch, then the media downloads), so it costs up to about 2 s there.

Exit status: 0 when the run completed, whether or not the target was met (the verdict is
printed); 1 if the run itself failed (a process did not start, a receipt went missing,
an exam never became ready); ``--strict`` also exits 1 below the target.

Options (``--help``): ``--duration``, ``--rounds``, ``--exams``, ``--broker orm|redis``,
``--workers`` / ``--threads`` (gunicorn: 2 sync workers per CPU by default; threads > 1
means gthread), ``--no-fsync`` (PostgreSQL without durability), ``--app`` (serve another
WSGI module, to try a variant of the webhook), ``--log-dir`` (keep the servers' output).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, suppress
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, this folder comes first on sys.path; bench/settings.py and
# bench/urls.py must only ever be imported as bench.settings and bench.urls.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET = 0.5  # webhook throughput / bare-view throughput
DURATION = 9.0  # seconds of measured load per endpoint
ROUNDS = 3  # ... in this many alternating bare/webhook rounds
WARMUP = 2.0  # seconds of unmeasured load per endpoint first
CONNECTIONS = 16
MAX_REQUESTS = 100_000  # the Python load generator's bound (wrk is bounded by time)
EXAMS = 5
CAPTURES, VIDEOS = 4, 1  # a 5-capture exam
EXAM_TIMEOUT = 45.0  # seconds for one exam to become ready
DB_POLL = 0.05

# Variables a developer's shell may export that must not reach the benchmark's processes
# (it must never touch a real database or broker).
_PORTAL_VARS = ("DATABASE_URL", "REDIS_URL", "DJANGO_", "PORTAL_", "CLARIUS_", "BENCH_")


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[bench_webhook] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --- child processes ---------------------------------------------------------------------


class Child:
    """A process in its own session (Ctrl-C reaches only us), its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path) -> None:
        self.name = name
        self.stopped = False
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL to its process group after ``timeout``; idempotent."""
        if self.stopped:
            return
        self.stopped = True
        if self.process.poll() is None:
            # The main process only: gunicorn's master and qcluster's sentinel stop their
            # own workers in order (a worker signalled directly can stall the sentinel).
            with suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop in {timeout:.0f}s: killing it")
        # Its children too (gunicorn's and qcluster's workers), if any outlived it.
        self._signal(signal.SIGKILL)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            log(f"{self.name} (pid {self.process.pid}) could not be reaped")

    def _signal(self, signum: int) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what: str) -> BenchError:
        return BenchError(f"{what}; last lines of {self.name}'s output:\n{self.tail()}")


def clean_env(**overrides: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PORTAL_VARS)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def start_redis(tmp: Path, logs: Path) -> tuple[Child, str] | None:
    server = shutil.which("redis-server")
    if not server:
        return None
    port = free_port()
    child = Child(
        "redis",
        [
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        clean_env(),
        logs,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        def answers():
            if not child.alive():
                raise child.failure("redis-server exited")
            try:
                return redis.Redis.from_url(url, socket_timeout=1).ping()
            except redis.RedisError:
                return False

        wait_until(answers, 15, "Redis to answer")
    except BaseException:
        child.stop()
        raise
    return child, url


def server_description(args) -> str:
    if args.threads > 1:
        return f"{args.workers} gthread workers x {args.threads} threads"
    return f"{args.workers} sync workers"


def start_gunicorn(env: dict, logs: Path, name: str, options) -> tuple[Child, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        options.app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(options.workers),
        "--worker-class",
        "gthread" if options.threads > 1 else "sync",
        "--threads",
        str(options.threads),
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
        "--backlog",
        "2048",
    ]
    # Worker heartbeats on a RAM disk, as scripts/start-web.sh does.
    shm = "/dev/shm"  # noqa: S108 - gunicorn's own files, not ours
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        args += ["--worker-tmp-dir", shm]
    child = Child(name, args, {**env, "PORTAL_BASE_URL": base}, logs)
    try:

        def ready():
            if not child.alive():
                raise child.failure("gunicorn exited")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                return connection.getresponse().status == 200
            except OSError:
                return False

        wait_until(ready, 30, "gunicorn to answer /healthz")
    except BaseException:
        child.stop()
        raise
    return child, base


# --- load generation ---------------------------------------------------------------------


class Body:
    """The notification JSON, split around the per-request UUIDs."""

    def __init__(self, customer_id: str, api_url: str, submitted_at: str) -> None:
        self.customer_id = customer_id
        self.api_url = api_url
        self.submitted_at = submitted_at
        marker = {"request_uuid": "\0R", "exam_uuid": "\0E"}
        template = json.dumps(
            {
                "request_uuid": marker["request_uuid"],
                "exam_uuid": marker["exam_uuid"],
                "customer_id": customer_id,
                "download_url": f"{api_url}exams/download-requests/\0R/data/",
                "submitted_at": submitted_at,
            }
        ).replace("\\u0000", "\0")
        # Pieces alternate: text, uuid slot, text, ...; slots are "R" or "E".
        self.pieces: list[str] = []
        self.slots: list[str] = []
        rest = template
        while "\0" in rest:
            text, rest = rest.split("\0", 1)
            self.pieces.append(text)
            self.slots.append(rest[0])
            rest = rest[1:]
        self.pieces.append(rest)

    def render(self, request_uuid: str, exam_uuid: str) -> str:
        values = {"R": request_uuid, "E": exam_uuid}
        out = [self.pieces[0]]
        for slot, text in zip(self.slots, self.pieces[1:], strict=True):
            out += [values[slot], text]
        return "".join(out)

    def lua(self, path: str, prefix: str) -> str:
        """A wrk script posting this body with a unique request_uuid per request."""
        parts = []
        for i, text in enumerate(self.pieces):
            parts.append(json.dumps(text))  # a JSON string of ASCII is a Lua string literal
            if i < len(self.slots):
                parts.append("rid" if self.slots[i] == "R" else "eid")
        return LUA_TEMPLATE.format(
            path=json.dumps(path), prefix=json.dumps(prefix), body=" .. ".join(parts)
        )


LUA_TEMPLATE = """
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

local counter = 0
local headers = {{["Content-Type"] = "application/json"}}
function request()
  counter = counter + 1
  local rid = string.format("%s-%04x-4000-8000-%012x", {prefix}, tid, counter)
  local eid = string.format("%s-%04x-4000-9000-%012x", {prefix}, tid, counter)
  return wrk.format("POST", {path}, headers, {body})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, " ..
    "\\"p99_us\\": %d, \\"max_us\\": %d, \\"errors_connect\\": %d, \\"errors_read\\": %d, " ..
    "\\"errors_write\\": %d, \\"errors_status\\": %d, \\"errors_timeout\\": %d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def run_wrk(base: str, path: str, body: Body, seconds: float, tmp: Path) -> dict:
    prefix = secrets.token_hex(4)
    script = tmp / f"wrk-{prefix}.lua"
    script.write_text(body.lua(path, prefix))
    threads = min(2, CONNECTIONS)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base + path,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, start_new_session=True
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH_JSON ")]
    if result.returncode or not lines:
        raise BenchError(f"wrk failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    raw = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
    # A sync gunicorn worker closes each connection after its answer, so wrk reconnects
    # for every request; a connect error is a refused connection, not a lost answer.
    return {
        "requests": raw["requests"],
        "seconds": raw["duration_us"] / 1e6,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "error_detail": {k: v for k, v in raw.items() if k.startswith("errors_") and v},
        "prefix": prefix,
    }


def _python_client(job: dict) -> dict:
    """One load process: ``threads`` threads, each a closed loop of POSTs."""
    import uuid as uuid_module

    body = Body(job["customer_id"], job["api_url"], job["submitted_at"])
    host, port = job["host"], job["port"]
    deadline = time.monotonic() + job["seconds"]
    budget = [job["max_requests"]]
    lock = threading.Lock()
    latencies: list[float] = []
    failures: dict[str, int] = {}

    def loop() -> None:
        mine: list[float] = []
        connection = None
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            payload = body.render(str(uuid_module.uuid4()), str(uuid_module.uuid4())).encode()
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(host, port, timeout=10)
                connection.request(
                    "POST", job["path"], payload, {"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    key = f"status {response.status}"
                    with lock:
                        failures[key] = failures.get(key, 0) + 1
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    failures[type(e).__name__] = failures.get(type(e).__name__, 0) + 1
                if connection is not None:
                    connection.close()
                connection = None
                continue
            mine.append(time.perf_counter() - started)
        if connection is not None:
            connection.close()
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=loop) for _ in range(job["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "latencies": latencies,
        "failures": failures,
        "seconds": time.monotonic() - started,
    }


def run_python(base: str, path: str, body: Body, seconds: float) -> dict:
    host, port = base.removeprefix("http://").split(":")
    processes = 2
    per_process = [CONNECTIONS // processes + (i < CONNECTIONS % processes) for i in range(2)]
    jobs = [
        {
            "host": host,
            "port": int(port),
            "path": path,
            "customer_id": body.customer_id,
            "api_url": body.api_url,
            "submitted_at": body.submitted_at,
            "seconds": seconds,
            "max_requests": MAX_REQUESTS // processes,
            "threads": n,
        }
        for n in per_process
    ]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        results = pool.map_async(_python_client, jobs).get(timeout=seconds + 60)
    latencies = sorted(x for r in results for x in r["latencies"])
    if not latencies:
        raise BenchError(f"no request succeeded: {[r['failures'] for r in results]}")
    failures: dict[str, int] = {}
    for r in results:
        for k, v in r["failures"].items():
            failures[k] = failures.get(k, 0) + v

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "seconds": max(r["seconds"] for r in results),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000,
        "errors": sum(failures.values()),
        "error_detail": failures,
        "prefix": None,
    }


def combine(rounds: list[dict]) -> dict:
    """Rounds of one endpoint: throughput over all of them, latency the median round's."""
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    errors: dict[str, int] = {}
    for r in rounds:
        for key, value in r["error_detail"].items():
            errors[key] = errors.get(key, 0) + value
    cpu: dict[str, float] = {}
    for r in rounds:
        for key, value in r["cpu"].items():
            cpu[key] = cpu.get(key, 0.0) + value
    return {
        "requests": requests,
        "seconds": seconds,
        "rps": requests / seconds,
        # CPU milliseconds per answered request, by process kind.
        "cpu_ms": {k: v * 1000 / requests for k, v in cpu.items()} if requests else {},
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
        "max_ms": max(r["max_ms"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "error_detail": errors,
    }


class CpuMeter:
    """CPU seconds used by gunicorn (its process group), PostgreSQL and the load generator.

    Linux ``/proc`` only (elsewhere the columns stay empty). Processes that exit during a
    measurement are not counted, but gunicorn's workers and the persistent database
    connections live through it; the load generator is counted through ``getrusage`` of
    the children this process reaped.
    """

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, server_pgid: int, postmaster_pid: int | None) -> None:
        self.server_pgid = server_pgid
        self.postmaster_pid = postmaster_pid
        self.available = os.path.isdir("/proc/self") and postmaster_pid is not None

    def _snapshot(self) -> dict[str, float]:
        totals = {"server": 0.0, "db": 0.0}
        if self.available:
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                ppid, pgid = int(fields[1]), int(fields[2])
                cpu = (int(fields[11]) + int(fields[12])) / self.TICK
                if pgid == self.server_pgid:
                    totals["server"] += cpu
                elif int(entry.name) == self.postmaster_pid or ppid == self.postmaster_pid:
                    totals["db"] += cpu
        import resource

        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        totals["client"] = usage.ru_utime + usage.ru_stime
        return totals

    def measure(self, work) -> tuple[dict, dict[str, float]]:
        before = self._snapshot()
        result = work()
        after = self._snapshot()
        return result, {k: after[k] - before[k] for k in after}


def load(
    client: str, base: str, path: str, body: Body, seconds: float, tmp: Path, meter=None
) -> dict:
    def work() -> dict:
        if client == "wrk":
            return run_wrk(base, path, body, seconds, tmp)
        return run_python(base, path, body, seconds)

    if meter is None:
        result, cpu = work(), {}
    else:
        result, cpu = meter.measure(work)
    result["rps"] = result["requests"] / result["seconds"]
    result["cpu"] = cpu
    return result


# --- the database side (this process, bench.settings) ------------------------------------


def setup_django(env: dict) -> None:
    for key in [k for k in os.environ if k.startswith(_PORTAL_VARS)]:
        del os.environ[key]
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def seed(sandbox_token: str) -> dict:
    from django.utils import timezone

    from integrations.clarius.account.registration import active_endpoint
    from integrations.clarius.models import ClariusLink
    from portal.accounts.models import User
    from portal.tenants.models import Institution, Membership

    institution = Institution.objects.create(name="Bench Clinic", slug="bench-clinic")
    links = {}
    for name, token in (("load", f"bench-{secrets.token_urlsafe(16)}"), ("e2e", sandbox_token)):
        user = User.objects.create_user(f"{name}@bench.invalid", password=None)
        Membership.objects.create(institution=institution, user=user, role="clinician")
        links[name] = ClariusLink.objects.create(
            token=token,
            user=user,
            institution=institution,
            state=ClariusLink.State.CONFIRMED,
            confirmed_at=timezone.now(),
        )
    return {
        "secret": active_endpoint().secret,
        "load_token": links["load"].token,
        "institution": institution,
    }


def queued_tasks(redis_url: str | None) -> int:
    if redis_url:
        import redis

        connection = redis.Redis.from_url(redis_url)
        return sum(connection.llen(key) for key in connection.scan_iter("django_q:*:q"))
    from django_q.models import OrmQ

    return OrmQ.objects.count()


def receipts(load_token: str) -> dict:
    from django.db.models import Count

    from integrations.clarius.models import NotificationReceipt

    rows = (
        NotificationReceipt.objects.filter(customer_id=load_token)
        .values("state")
        .annotate(n=Count("id"))
    )
    return {row["state"]: row["n"] for row in rows}


def settle(load_token: str, redis_url: str | None) -> tuple[dict, int]:
    """Receipts and queued tasks once requests still in flight have landed (≤ 10 s)."""
    counts = None
    for _ in range(50):
        time.sleep(0.2)
        latest = (receipts(load_token), queued_tasks(redis_url))
        if latest == counts:
            break
        counts = latest
    return latest


def clear_load(load_token: str, redis_url: str | None) -> None:
    """Forget the throughput run's receipts and tasks before a worker starts."""
    from django_q.models import OrmQ

    from integrations.clarius.models import NotificationReceipt

    NotificationReceipt.objects.filter(customer_id=load_token).delete()
    OrmQ.objects.all().delete()
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()


def exam_progress(request) -> dict:
    from integrations.clarius.models import NotificationReceipt
    from portal.exams.models import Exam

    exam = Exam.objects.filter(exam_uuid=request.exam_uuid).values("status").first()
    receipt = (
        NotificationReceipt.objects.filter(request_uuid=request.request_uuid)
        .values("state", "received_at", "fetched_at", "last_error")
        .first()
    )
    return {"exam": exam and exam["status"], "receipt": receipt}


def one_exam(sandbox, user) -> dict:
    started_wall = time.time()
    started = time.monotonic()
    request = sandbox.upload_exam(user, captures=CAPTURES, videos=VIDEOS, notify=True)
    deadline = started + EXAM_TIMEOUT
    while True:
        progress = exam_progress(request)
        if progress["exam"] == "ready":
            elapsed = time.monotonic() - started
            break
        if progress["exam"] == "incomplete":
            raise BenchError(f"exam {request.exam_uuid} ended incomplete: {progress}")
        if time.monotonic() > deadline:
            raise BenchError(
                f"exam {request.exam_uuid} not ready after {EXAM_TIMEOUT:.0f}s: {progress}"
            )
        time.sleep(DB_POLL)
    receipt = progress["receipt"] or {}

    def since_start(moment) -> float | None:
        return moment.timestamp() - started_wall if moment else None

    return {
        "seconds": elapsed,
        "received": since_start(receipt.get("received_at")),
        "fetched": since_start(receipt.get("fetched_at")),
    }


def register_webhook(sandbox, url: str) -> None:
    import requests

    response = requests.patch(
        sandbox.api_url + "services/settings/",
        json={"notification_url": url},
        headers={"Authorization": f"Service-API-Key {sandbox.api_key}"},
        timeout=10,
    )
    if response.status_code != 200:
        raise BenchError(f"registering the webhook failed: {response.status_code} {response.text}")


def confirm_at_sandbox(sandbox, token: str) -> None:
    import requests

    response = requests.post(
        sandbox.api_url + "services/customer-confirmations/",
        json={"token": token},
        headers={"Authorization": f"Service-API-Key {sandbox.api_key}"},
        timeout=10,
    )
    if response.status_code not in (200, 201):
        raise BenchError(f"confirming at the sandbox failed: {response.status_code}")


# --- one broker configuration -------------------------------------------------------------


def run_config(
    label: str, env: dict, redis_url: str | None, ctx: dict, stack: ExitStack, args
) -> dict:
    tmp: Path = ctx["tmp"]
    sandbox = ctx["sandbox"]
    result: dict = {"label": label}
    gunicorn, base = start_gunicorn(env, ctx["logs"], f"gunicorn-{label}", args)
    stack.callback(gunicorn.stop)
    try:
        webhook_path = f"/clarius/notifications/{ctx['secret']}/"
        body = ctx["body"]
        client = ctx["client"]
        log(f"{label}: gunicorn {base} ({server_description(args)}); warming up")
        endpoints = (
            ("bare", "/bench/bare/"),
            ("insert", "/bench/insert/"),
            ("webhook", webhook_path),
        )
        for _, path in endpoints:
            load(client, base, path, body, WARMUP, tmp)
        settle(ctx["load_token"], redis_url)
        clear_load(ctx["load_token"], redis_url)
        before = queued_tasks(redis_url)
        slice_seconds = args.duration / args.rounds
        meter = CpuMeter(gunicorn.process.pid, ctx["postmaster_pid"])
        log(
            f"{label}: {args.duration:.0f}s of load on each endpoint "
            f"({args.rounds} alternating rounds), {CONNECTIONS} connections"
        )
        rounds: dict[str, list[dict]] = {name: [] for name, _ in endpoints}
        for _ in range(args.rounds):
            # Alternating, so a noisy moment on the machine hits every endpoint alike.
            for name, path in endpoints:
                rounds[name].append(load(client, base, path, body, slice_seconds, tmp, meter))
        for name, measured in rounds.items():
            result[name] = combine(measured)
        result["round_ratios"] = [
            w["rps"] / b["rps"] for b, w in zip(rounds["bare"], rounds["webhook"], strict=True)
        ]
        if not gunicorn.alive():
            raise gunicorn.failure("gunicorn died under load")
        for name, _ in endpoints:
            if result[name]["errors"]:
                log(f"{label}: {name} had errors: {result[name]['error_detail']}")
        stored, queued = settle(ctx["load_token"], redis_url)
        result["stored"] = stored
        result["queued"] = queued - before
        pending = stored.get("pending", 0)
        if set(stored) - {"pending"}:
            raise BenchError(f"{label}: unexpected receipt states {stored} (expected pending)")
        if pending < result["webhook"]["requests"] - result["webhook"]["errors"]:
            raise BenchError(
                f"{label}: {result['webhook']['requests']} acknowledged, only {pending} stored"
            )
        clear_load(ctx["load_token"], redis_url)

        if args.exams <= 0:
            return result
        worker = Child(
            f"qcluster-{label}",
            [sys.executable, "manage.py", "qcluster"],
            {**env, "PORTAL_BASE_URL": base},
            ctx["logs"],
        )
        stack.callback(worker.stop)
        try:
            register_webhook(sandbox, base + webhook_path)
            log(f"{label}: worker started; a warm-up exam, then {args.exams} timed exams")
            one_exam(sandbox, ctx["user"])  # imports, connections, the sandbox's clips
            exams = []
            for _ in range(args.exams):
                if not worker.alive():
                    raise worker.failure("the qcluster worker exited")
                exams.append(one_exam(sandbox, ctx["user"]))
            result["exams"] = exams
        except BenchError as e:
            raise BenchError(f"{e}\nlast lines of the worker's output:\n{worker.tail()}") from e
        finally:
            worker.stop()
    finally:
        gunicorn.stop()
    return result


# --- report ------------------------------------------------------------------------------


def report(results: list[dict], client: str, args, durable: bool) -> bool:
    print()
    print(
        f"webhook vs bare Django view: gunicorn {server_description(args)} + PostgreSQL "
        f"({'fsync on' if durable else 'fsync off'}), {os.cpu_count()} CPUs, "
        f"load generator {client}, {CONNECTIONS} connections, {args.duration:.0f}s each "
        f"in {args.rounds} alternating rounds (latency: the median round's)"
    )
    print(
        f"{'broker':<7} {'endpoint':<8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
        f"  {'CPU ms/request: gunicorn':>24} {'postgres':>8} {'client':>6}"
    )
    met = True
    for r in results:
        for name in ("bare", "insert", "webhook"):
            m = r[name]
            cpu = m["cpu_ms"]
            print(
                f"{r['label']:<7} {name:<8} {m['rps']:>8.0f} {m['p50_ms']:>7.1f} "
                f"{m['p99_ms']:>7.1f} {m['errors']:>6}  "
                f"{cpu.get('server', float('nan')):>24.2f} {cpu.get('db', float('nan')):>8.2f} "
                f"{cpu.get('client', float('nan')):>6.2f}"
            )
    if any("exams" in r for r in results):
        print()
        print(
            f"notification -> exam ready, {CAPTURES + VIDEOS}-capture exam "
            f"({CAPTURES} images + {VIDEOS} clip), {args.exams} exams after a warm-up"
        )
        print(
            f"{'broker':<7} {'median s':>9} {'max s':>7} {'ack s':>7} {'fetched s':>10}"
            "   (ack, fetched: medians since upload)"
        )
        for r in results:
            if "exams" not in r:
                continue
            exams = r["exams"]
            r["e2e_median"] = statistics.median(e["seconds"] for e in exams)
            r["e2e_max"] = max(e["seconds"] for e in exams)
            acks = [e["received"] for e in exams if e["received"] is not None]
            fetched = [e["fetched"] for e in exams if e["fetched"] is not None]
            print(
                f"{r['label']:<7} {r['e2e_median']:>9.2f} {r['e2e_max']:>7.2f} "
                f"{statistics.median(acks) if acks else float('nan'):>7.2f} "
                f"{statistics.median(fetched) if fetched else float('nan'):>10.2f}"
            )
    print()
    for r in results:
        bare, webhook = r["bare"], r["webhook"]
        ratio = webhook["rps"] / bare["rps"]
        ok = ratio >= TARGET
        met &= ok
        spread = f"rounds {min(r['round_ratios']):.2f}-{max(r['round_ratios']):.2f}"
        label = r["label"]
        print(f"{label}: webhook acks/s: {webhook['rps']:.0f} (bare view {bare['rps']:.0f} req/s)")
        print(
            f"{label}: webhook p50/p99 ms: {webhook['p50_ms']:.1f}/{webhook['p99_ms']:.1f} "
            f"(bare view {bare['p50_ms']:.1f}/{bare['p99_ms']:.1f})"
        )
        print(
            f"{label}: webhook/bare throughput: {ratio:.2f} ({spread}), target >= {TARGET}: "
            f"{'met' if ok else 'NOT met'}"
        )
        insert = r["insert"]
        print(
            f"{label}: webhook/durable-insert view throughput: "
            f"{webhook['rps'] / insert['rps']:.2f} (that view: {insert['rps']:.0f} req/s, "
            f"p99 {insert['p99_ms']:.1f} ms)"
        )
        print(
            f"{label}: receipts stored {sum(r['stored'].values())} (all pending), "
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
    print(f"throughput target webhook/bare >= {TARGET}: {verdict}{consequence}")
    return met


# --- main --------------------------------------------------------------------------------


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=DURATION, help="seconds per endpoint")
    parser.add_argument("--exams", type=int, default=EXAMS, help="timed exams per broker")
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help="alternating bare/webhook rounds"
    )
    parser.add_argument(
        "--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn workers"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (>1: gthread workers)"
    )
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--broker", choices=("all", "orm", "redis"), default="all")
    parser.add_argument(
        "--no-fsync", action="store_true", help="PostgreSQL without fsync (not crash-safe)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 below the target")
    parser.add_argument(
        "--app",
        default="portal.wsgi:application",
        help="the WSGI application gunicorn serves (to try a variant of the portal)",
    )
    parser.add_argument("--log-dir", help="keep gunicorn's, the worker's and Redis' output here")
    args = parser.parse_args(argv)

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    elif client == "wrk" and not shutil.which("wrk"):
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 1

    # Ctrl-C, SIGTERM or a closed terminal: stop and tear down (even if started with
    # SIGINT ignored, as a background job of a script is).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    from bench.pgtemp import TempPostgres

    results: list[dict] = []
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        logs = Path(args.log_dir).resolve() if args.log_dir else tmp
        logs.mkdir(parents=True, exist_ok=True)
        try:
            log("starting PostgreSQL")
            pg = TempPostgres(durable=not args.no_fsync)
            stack.callback(pg.stop)
            pg.start()
            redis_url = None
            if args.broker in ("all", "redis"):
                started = start_redis(tmp, logs)
                if started:
                    redis_child, redis_url = started
                    stack.callback(redis_child.stop)
                elif args.broker == "redis":
                    raise BenchError("redis-server is not installed")
                else:
                    log("redis-server not installed: measuring the ORM broker only")

            from clarius_sandbox import Sandbox

            sandbox = Sandbox().start()
            stack.callback(sandbox.stop)
            env = clean_env(
                DJANGO_SETTINGS_MODULE="bench.settings",
                DJANGO_DEBUG="1",
                DJANGO_LOG_LEVEL="WARNING",
                DATABASE_URL=pg.url,
                CLARIUS_API_URL=sandbox.api_url,
                CLARIUS_API_KEY=sandbox.api_key,
                CLARIUS_MEDIA_ORIGINS=sandbox.media_origin,
                CLARIUS_ALLOW_HTTP="1",
                PORTAL_MEDIA_ROOT=str(tmp / "media"),
            )
            log(f"PostgreSQL on port {pg.port}; migrating")
            setup_django(env)
            user = sandbox.add_user("Bench Clinician")
            confirm_at_sandbox(sandbox, user.customer_token)
            seeded = seed(user.customer_token)
            ctx = {
                "tmp": tmp,
                "logs": logs,
                "sandbox": sandbox,
                "user": user,
                "client": client,
                "secret": seeded["secret"],
                "load_token": seeded["load_token"],
                "postmaster_pid": pg.postmaster_pid(),
                "body": Body(seeded["load_token"], sandbox.api_url, "2025-01-02T03:04:05.678901Z"),
            }
            configs = []
            if args.broker in ("all", "orm"):
                configs.append(("orm", env, None))
            if redis_url:
                configs.append(("redis", {**env, "REDIS_URL": redis_url}, redis_url))
            for label, config_env, config_redis in configs:
                results.append(run_config(label, config_env, config_redis, ctx, stack, args))
        except BenchError as e:
            print(f"FAIL: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted: tearing down", file=sys.stderr)
            return 130
        finally:
            # Teardown is bounded; a second Ctrl-C must not cut it short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            log("tearing down")
            if "django.db" in sys.modules and os.environ.get("DJANGO_SETTINGS_MODULE"):
                from django.db import connections

                connections.close_all()
    met = report(results, client, args, durable=not args.no_fsync)
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
