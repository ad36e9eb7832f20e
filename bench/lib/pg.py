"""A throwaway PostgreSQL server: a fresh cluster in a temporary folder.

    with TempPostgres() as pg:          # initdb + start on a free port of 127.0.0.1
        os.environ["DATABASE_URL"] = pg.url
        ...                             # stopped and deleted on exit, even on errors

Like ``.ci/run``: the server binaries (``initdb``, ``pg_ctl``, ``postgres``) are taken from
``PATH`` or ``/usr/lib/postgresql/*/bin``; as root the cluster runs as the ``postgres`` OS
user (``runuser``), otherwise as the current user. Authentication is ``trust`` on loopback
only. ``durable=False`` turns off fsync and synchronous commit (faster, not crash-safe).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench.lib.processes import free_port


class PostgresUnavailable(RuntimeError):
    pass


def find_pg_bin() -> Path:
    candidates = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for directory in candidates:
        if all(os.access(directory / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; "
        "install them (Debian: apt-get install postgresql)"
    )


class TempPostgres:
    def __init__(self, *, database: str = "portal", durable: bool = True) -> None:
        self.database = database
        self.durable = durable
        self.port = 0
        self.root: Path | None = None
        self.bin: Path | None = None
        self._started = False
        self._as_postgres = os.geteuid() == 0

    @property
    def data(self) -> Path:
        assert self.root is not None
        return self.root / "pg" / "data"

    @property
    def log(self) -> Path:
        assert self.root is not None
        return self.root / "pg" / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command,
            cwd=self.root / "pg",
            capture_output=True,
            text=True,
            timeout=timeout,
            # Its own session: a Ctrl-C in the terminal reaches only the benchmark, which
            # then stops the server itself.
            start_new_session=True,
        )

    def start(self) -> TempPostgres:
        self.bin = find_pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        assert self.root is not None and self.bin is not None
        self.root.chmod(0o755)  # the postgres user must reach its data directory inside
        pg_dir = self.root / "pg"
        socket_dir = pg_dir / "socket"
        socket_dir.mkdir(parents=True)
        if self._as_postgres:
            shutil.chown(pg_dir, "postgres", "postgres")
            shutil.chown(socket_dir, "postgres", "postgres")
        result = self._run(
            self.bin / "initdb",
            "-D",
            self.data,
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--auth-local=trust",
            "--auth-host=trust",
        )
        if result.returncode:
            raise PostgresUnavailable(f"initdb failed:\n{result.stdout}{result.stderr}")
        options = [
            f"-p {{port}} -c listen_addresses=127.0.0.1 -c unix_socket_directories={socket_dir}",
            "-c max_connections=100 -c shared_buffers=128MB",
        ]
        if not self.durable:
            options.append("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        for _attempt in range(3):  # the free port may be taken between choosing and binding
            self.port = free_port()
            self._started = True
            result = self._run(
                self.bin / "pg_ctl",
                "-D",
                self.data,
                "-l",
                self.log,
                "-w",
                "-t",
                "60",
                "-o",
                " ".join(options).format(port=self.port),
                "start",
            )
            if result.returncode == 0:
                break
            self._started = self.postmaster_pid() is not None
        else:
            raise PostgresUnavailable(f"PostgreSQL did not start:\n{self.log_tail()}")
        self._create_database()

    def _create_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user="postgres",
                    dbname="postgres",
                    autocommit=True,
                    connect_timeout=5,
                ) as connection:
                    connection.execute(f'CREATE DATABASE "{self.database}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server (fast shutdown, then SIGKILL) and delete everything; idempotent."""
        if self._started and self.bin is not None:
            self._started = False
            pid = self.postmaster_pid()
            try:
                result = self._run(
                    self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop"
                )
                stopped = result.returncode == 0
            except (subprocess.TimeoutExpired, OSError):
                stopped = False
            if not stopped and pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
