"""Child processes for the benchmarks: started in their own session, stopped in order.

``Child`` runs a command with its output in a log file; ``start_redis`` and
``start_gunicorn`` start one and wait until it answers; ``clean_env`` is the environment
without anything a developer's shell exports for the portal (a benchmark must never touch
a real database or broker); ``handle_signals`` turns Ctrl-C, SIGTERM and SIGHUP into
``KeyboardInterrupt`` so the benchmark tears everything down.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from bench.lib import ROOT, BenchError
from bench.lib.report import log

# Variables a developer's shell may export that must not reach the benchmark's processes.
PORTAL_VARS = ("DATABASE_URL", "REDIS_URL", "DJANGO_", "PORTAL_", "CLARIUS_", "BENCH_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def clean_env(**overrides: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PORTAL_VARS)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def handle_signals() -> None:
    """Ctrl-C, SIGTERM or a closed terminal: raise, to stop and tear down (even if started
    with SIGINT ignored, as a background job of a script is)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)


def ignore_signals() -> None:
    """Teardown is bounded; a second Ctrl-C must not cut it short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


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
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            log(f"{self.name} (pid {self.process.pid}) could not be reaped")

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what: str) -> BenchError:
        return BenchError(f"{what}; last lines of {self.name}'s output:\n{self.tail()}")

    def wait_ready(self, check: Callable[[], bool], timeout: float, what: str, exited: str):
        """Wait until ``check()``; fail (``exited``) if the process exits; stop it on failure."""

        def ready() -> bool:
            if not self.alive():
                raise self.failure(exited)
            return check()

        try:
            wait_until(ready, timeout, what)
        except BaseException:
            self.stop()
            raise


def start_redis(tmp: Path, logs: Path) -> tuple[Child, str] | None:
    """A throwaway Redis on a free port, without persistence; None if not installed."""
    server = shutil.which("redis-server")
    if not server:
        return None
    port = free_port()
    args = ["--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    child = Child("redis", [server, *args, "--dir", str(tmp)], clean_env(), logs)
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        import redis

        try:
            return redis.Redis.from_url(url, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    child.wait_ready(answers, 15, "Redis to answer", "redis-server exited")
    return child, url


def gunicorn_description(workers: int, threads: int) -> str:
    if threads > 1:
        return f"{workers} gthread workers x {threads} threads"
    return f"{workers} sync workers"


def start_gunicorn(
    app: str, env: dict, logs: Path, name: str, *, workers: int, threads: int
) -> tuple[Child, str]:
    """gunicorn serving ``app`` on a free port (gthread workers if ``threads`` > 1), once
    it answers ``/healthz``; returns it and its base URL (also its ``PORTAL_BASE_URL``)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"]
    args += ["--workers", str(workers), "--worker-class", "gthread" if threads > 1 else "sync"]
    args += ["--threads", str(threads), "--timeout", "30", "--graceful-timeout", "5"]
    args += ["--backlog", "2048"]
    # Worker heartbeats on a RAM disk, as scripts/start-web.sh does.
    shm = "/dev/shm"  # noqa: S108 - gunicorn's own files, not ours
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        args += ["--worker-tmp-dir", shm]
    child = Child(name, args, {**env, "PORTAL_BASE_URL": base}, logs)

    def healthy() -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False

    # A worker answers once it has loaded every view (portal/wsgi.py): on a busy machine
    # several workers importing the portal at once take a while.
    child.wait_ready(healthy, 120, "gunicorn to answer /healthz", "gunicorn exited")
    return child, base
