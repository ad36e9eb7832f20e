"""HTTP load: closed loops of POSTs of one JSON body, each with fresh UUIDs.

``Load(client, base, body, tmp).run(path, seconds)`` posts ``body`` to ``base + path`` for
``seconds`` over ``connections`` connections, with ``wrk`` (a Lua script builds each body)
or, without it, Python processes (``http.client``), and returns requests, seconds,
requests/s, p50/p99/max latency and errors; with a ``CpuMeter``, also the CPU seconds
spent meanwhile. ``combine`` adds up rounds of one endpoint.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import secrets
import shutil
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path

from bench.lib import BenchError
from bench.lib.meters import CpuMeter
from bench.lib.report import percentile_of_sorted

CONNECTIONS = 16
MAX_REQUESTS = 100_000  # the Python load generator's bound (wrk is bounded by time)

# Placeholders in a Body's values, replaced by a fresh UUID in each request.
REQUEST_UUID = "\0R"
EXAM_UUID = "\0E"


def pick_client(choice: str) -> str | None:
    """``wrk`` or ``python`` for ``auto``; None if ``wrk`` was asked for but is missing."""
    if choice == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if choice == "wrk" and not shutil.which("wrk"):
        return None
    return choice


class Body:
    """A JSON body, split around its per-request UUIDs (``REQUEST_UUID``, ``EXAM_UUID``)."""

    def __init__(self, fields: dict) -> None:
        template = json.dumps(fields).replace("\\u0000", "\0")
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


class Load:
    """One load generator (``wrk`` or ``python``) posting ``body`` to one server."""

    def __init__(
        self, client: str, base: str, body: Body, tmp: Path, connections: int = CONNECTIONS
    ) -> None:
        self.client = client
        self.base = base
        self.body = body
        self.tmp = tmp
        self.connections = connections

    def run(self, path: str, seconds: float, meter: CpuMeter | None = None) -> dict:
        def work() -> dict:
            if self.client == "wrk":
                return self._wrk(path, seconds)
            return self._python(path, seconds)

        if meter is None:
            result, cpu = work(), {}
        else:
            result, cpu = meter.measure(work)
        result["rps"] = result["requests"] / result["seconds"]
        result["cpu"] = cpu
        return result

    def alternate(
        self, paths: dict[str, str], rounds: int, seconds: float, meter: CpuMeter | None = None
    ) -> dict[str, list[dict]]:
        """``rounds`` runs of ``seconds`` on each of ``paths`` (name: path), in turn, so a
        noisy moment on the machine hits every path alike; the runs by name."""
        runs: dict[str, list[dict]] = {name: [] for name in paths}
        for _ in range(rounds):
            for name, path in paths.items():
                runs[name].append(self.run(path, seconds, meter))
        return runs

    def _wrk(self, path: str, seconds: float) -> dict:
        prefix = secrets.token_hex(4)
        script = self.tmp / f"wrk-{prefix}.lua"
        script.write_text(self.body.lua(path, prefix))
        threads = min(2, self.connections)
        command = ["wrk", f"-t{threads}", f"-c{self.connections}", f"-d{max(1, round(seconds))}s"]
        command += ["--timeout", "10s", "-s", str(script), self.base + path]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, start_new_session=True
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH_JSON ")]
        if result.returncode or not lines:
            raise BenchError(
                f"wrk failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )
        raw = json.loads(lines[-1].removeprefix("BENCH_JSON "))
        errors = {k: v for k, v in raw.items() if k.startswith("errors_")}
        # A sync gunicorn worker closes each connection after its answer, so wrk reconnects
        # for every request; a connect error is a refused connection, not a lost answer.
        return {
            "requests": raw["requests"],
            "seconds": raw["duration_us"] / 1e6,
            "p50_ms": raw["p50_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000,
            "max_ms": raw["max_us"] / 1000,
            "errors": sum(errors.values()),
            "error_detail": {k: v for k, v in errors.items() if v},
            "prefix": prefix,
        }

    def _python(self, path: str, seconds: float) -> dict:
        host, port = self.base.removeprefix("http://").split(":")
        processes = 2
        n = self.connections
        per_process = [n // processes + (i < n % processes) for i in range(2)]
        jobs = [
            {
                "host": host,
                "port": int(port),
                "path": path,
                "body": self.body,
                "seconds": seconds,
                "max_requests": MAX_REQUESTS // processes,
                "threads": threads,
            }
            for threads in per_process
        ]
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes) as pool:
            results = pool.map_async(_python_client, jobs).get(timeout=seconds + 60)
        latencies = sorted(x for r in results for x in r["latencies"])
        if not latencies:
            raise BenchError(f"no request succeeded: {[r['failures'] for r in results]}")
        failures: dict[str, int] = {}
        for r in results:
            _add(failures, r["failures"])
        return {
            "requests": len(latencies),
            "seconds": max(r["seconds"] for r in results),
            "p50_ms": percentile_of_sorted(latencies, 0.50) * 1000,
            "p99_ms": percentile_of_sorted(latencies, 0.99) * 1000,
            "max_ms": latencies[-1] * 1000,
            "errors": sum(failures.values()),
            "error_detail": failures,
            "prefix": None,
        }


def _add(totals: dict, more: dict) -> None:
    for key, value in more.items():
        totals[key] = totals.get(key, 0) + value


def _python_client(job: dict) -> dict:
    """One load process: ``threads`` threads, each a closed loop of POSTs."""
    body: Body = job["body"]
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
            payload = body.render(str(uuid.uuid4()), str(uuid.uuid4())).encode()
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
                    with lock:
                        _add(failures, {f"status {response.status}": 1})
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    _add(failures, {type(e).__name__: 1})
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
    return {"latencies": latencies, "failures": failures, "seconds": time.monotonic() - started}


def combine(rounds: list[dict]) -> dict:
    """Rounds of one endpoint: throughput over all of them, latency the median round's."""
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    errors: dict[str, int] = {}
    cpu: dict[str, float] = {}
    for r in rounds:
        _add(errors, r["error_detail"])
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
