"""A portal cluster on one machine, and a run of exams through it while nodes fail.

``make cluster`` (or ``python scripts/cluster.py --exams 2000``) starts:

- PostgreSQL: a database of its own on the server ``--database-url`` names (the role
  needs CREATEDB), or a throw-away server (initdb, run as the ``postgres`` user when
  root, as CI does) when none is given;
- Redis (``redis-server``), the broker, owned by the cluster because it is restarted;
- the S3 server when ``--s3`` is given and ``tests/services.py`` can start one; otherwise
  local storage in one media folder shared by the nodes;
- the Clarius sandbox, in this process, whose notifications reach the web nodes through a
  tiny round-robin TCP proxy (a load balancer: a node that refuses a connection is
  skipped, so a restarting node loses nothing);
- 2 web nodes (``scripts/start-web.sh``: gunicorn, as in production);
- 2 worker nodes (``scripts/start-worker.sh``: ``manage.py qcluster``), each with its own
  scratch and temp folders.

Then the sandbox uploads exams (images and clips): a batch with one worker node, a batch
with two (exams per minute each, and the scale-out ratio), then the rest at a steady rate
while one worker node is SIGKILLed (its whole process group), Redis is restarted and a
web node is restarted. At the end every acknowledged exam must be ready with every
capture in the store, no capture downloaded to completion twice by live claims, no
duplicate rows, and the catch-up poll must find nothing. ``tests/cluster/`` runs it
smaller; every process is stopped on any exit (process groups, ``atexit``).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Variables of the caller's shell that must not leak into the nodes.
_LEAKY = ("DATABASE_URL", "REDIS_URL", "DJANGO_", "PORTAL_", "CLARIUS_", "TEST_")
CAPTURE_PATH = re.compile(r"/captures/([0-9a-f-]{36})\.")


def log(message: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: Process | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise RuntimeError(f"{process.name} exited: see {process.log_path}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f} s")


def wait_healthy(port: int, process: Process, timeout: float = 180) -> None:
    """Until the web node answers /healthz (its workers load every view first)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited: see {process.log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the web node on port {port} is not healthy after {timeout:.0f} s")


# --- processes -------------------------------------------------------------------------


class Process:
    """A child in its own process group (so a kill takes its children too), logged to a file."""

    _all: list[Process] = []

    def __init__(self, name: str, argv: list[str], env: dict, log_path: Path, cwd=ROOT) -> None:
        self.name, self.argv, self.env, self.log_path, self.cwd = name, argv, env, log_path, cwd
        self.popen: subprocess.Popen | None = None
        Process._all.append(self)

    def start(self) -> Process:
        with open(self.log_path, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group at once: a node dying with its power cut."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self, grace: float = 20) -> None:
        """SIGTERM the group, wait up to ``grace`` seconds, then SIGKILL what is left."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        # Children may outlive their parent (a gunicorn worker): the group goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _stop_everything() -> None:
    for process in reversed(Process._all):
        with contextlib.suppress(Exception):
            process.stop(grace=3)


atexit.register(_stop_everything)


def as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as the ``postgres`` user then (CI's recipe)."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *argv]
    return ["su", "-s", "/bin/sh", "postgres", "-c", " ".join(argv)]


def pg_bin() -> Path | None:
    candidates = [Path(p).parent for p in [shutil.which("initdb")] if p]
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in candidates:
        if all((directory / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


class LocalPostgres:
    """A throw-away PostgreSQL server (fsync off), as .ci/run starts one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.bin = pg_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL's initdb, pg_ctl and postgres are not installed")

    def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # The postgres user must reach its data folder inside.
            os.chmod(self.folder.parent, 0o755)  # noqa: S103
            shutil.chown(self.folder, "postgres")
        subprocess.run(
            as_postgres(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--auth=trust",
                ]
            ),
            check=True,
            capture_output=True,
            cwd=self.folder,
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        subprocess.run(
            as_postgres(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.folder / "postgres.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    options,
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            cwd=self.folder,
        )
        atexit.register(self.stop)
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                as_postgres(
                    [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
                ),
                capture_output=True,
                cwd=self.folder,
            )


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def pg_connect(url: str, **kwargs):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.path.lstrip("/") or "postgres",
        **kwargs,
    )


class Redis:
    """The broker, restartable on the same port; AOF on, as compose.yaml runs it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: Process | None = None
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        argv += ["--appendonly", "yes", "--dir", str(self.folder)]
        self.process = Process("redis", argv, dict(os.environ), self.folder / "redis.log").start()
        wait_for_port(self.port, self.process, timeout=20)

    def restart(self) -> None:
        self.process.stop(grace=10)
        self.start()


# --- the load balancer -----------------------------------------------------------------


class RoundRobinProxy:
    """A TCP proxy taking each connection to the next web node that accepts it."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self._next = itertools.count()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.served: dict[int, int] = dict.fromkeys(backends, 0)
        self.active: dict[int, int] = dict.fromkeys(backends, 0)
        self.drained: set[int] = set()
        self._lock = threading.Lock()
        self._stopping = False

    def drain(self, port: int, timeout: float = 30) -> None:
        """Send no new connection to ``port`` and wait for its open ones to end: how a
        load balancer takes a node out before it restarts."""
        self.drained.add(port)
        deadline = time.monotonic() + timeout
        while self.active[port] and time.monotonic() < deadline:
            time.sleep(0.05)

    def restore(self, port: int) -> None:
        self.drained.discard(port)

    def start(self) -> RoundRobinProxy:
        threading.Thread(target=self._accept, name="cluster-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self.server.close()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        start = next(self._next)
        upstream = None
        for i in range(len(self.backends)):
            port = self.backends[(start + i) % len(self.backends)]
            if port in self.drained:
                continue
            with self._lock:
                self.active[port] += 1
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=2)
                self.served[port] += 1
                break
            except OSError:
                with self._lock:
                    self.active[port] -= 1
                continue
        if upstream is None:
            client.close()
            return
        upstream.settimeout(None)
        back = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        back.start()
        self._pump(client, upstream)
        back.join()
        with self._lock:
            self.active[port] -= 1

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                source.close()


# --- the sandbox's media server, counted -----------------------------------------------


class CountingMedia:
    """WSGI middleware on the sandbox's media server: how many times each capture was
    sent to the end (a transfer cut off by a killed client is not counted)."""

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.completed: dict[str, int] = {}
        self.started: dict[str, int] = {}

    def __call__(self, environ, start_response):
        match = CAPTURE_PATH.search(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        capture_uuid = match.group(1)
        status = {}

        def recording_start(code, headers, *args):
            status["code"] = int(code.split()[0])
            return start_response(code, headers, *args)

        with self.lock:
            self.started[capture_uuid] = self.started.get(capture_uuid, 0) + 1
        return self._counted(self.app(environ, recording_start), capture_uuid, status)

    def _counted(self, body, capture_uuid, status):
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()
        if status.get("code") == 200:
            with self.lock:
                self.completed[capture_uuid] = self.completed.get(capture_uuid, 0) + 1


# --- the cluster -----------------------------------------------------------------------

SETUP_SNIPPET = """
import json, sys, django
django.setup()
from contextlib import closing
from django.contrib.auth import get_user_model
from integrations.clarius import tasks
from integrations.clarius.account.registration import wanted_settings
from integrations.clarius.clients import service_client
from integrations.clarius.ingestion.linking import link_token
from portal.tenants.models import Institution, Membership

institution = Institution.objects.create(name="Cluster Clinic", slug="cluster")
tokens = json.loads(sys.argv[1])
for i, token in enumerate(tokens):
    user = get_user_model().objects.create_user(
        email=f"clinician{i}@cluster.example", password="cluster-only-password-1"
    )
    Membership.objects.create(user=user, institution=institution, role="clinician")
    link = link_token(user, institution, token).link
    assert tasks.confirm_link(link.pk) in ("confirmed", "not due"), "link not confirmed"
with closing(service_client()) as client:
    client.update_settings(**wanted_settings())
print(json.dumps(wanted_settings()))
"""


@dataclass
class Figures:
    exams: int = 0
    one_node_per_minute: float = 0.0
    two_nodes_per_minute: float = 0.0
    last_exam_wait: float | None = None
    rate: float = 0.0  # exams per second while nodes failed
    not_ready_at_last_notification: int = 0
    # The work the killed node held (claimed, unfinished): seconds from the kill until
    # the last of it was done by another node.
    orphaned_rows: int = 0
    orphaned_wait: float | None = None
    events: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        one, two = self.one_node_per_minute, self.two_nodes_per_minute
        return two / one if one else 0.0

    def lines(self) -> list[str]:
        wait = "not all ready" if self.last_exam_wait is None else f"{self.last_exam_wait:.1f} s"
        return [
            f"exams delivered: {self.exams}",
            f"exams/minute with 1 worker node: {self.one_node_per_minute:.0f}",
            f"exams/minute with 2 worker nodes: {self.two_nodes_per_minute:.0f}",
            f"scale-out ratio (2 nodes / 1 node): {self.ratio:.2f}x",
            f"steady rate while nodes failed: {self.rate * 60:.0f} exams/minute",
            f"last exam ready after the last notification: {wait} "
            f"({self.not_ready_at_last_notification} exams were not ready then)",
            f"work held by the killed node: {self.orphaned_rows} rows, all done "
            + (
                f"{self.orphaned_wait:.1f} s after the kill"
                if self.orphaned_wait is not None
                else "(none was held)"
            ),
            *self.events,
        ]


class Cluster:
    def __init__(
        self,
        folder: Path | None = None,
        *,
        database_url: str | None = None,
        own_database: bool = True,
        s3=None,
        web_nodes: int = 2,
        worker_nodes: int = 2,
        workers_per_node: int = 2,
        sandbox_users: int = 4,
    ) -> None:
        self.folder = Path(folder or tempfile.mkdtemp(prefix="portal-cluster-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.server_url = database_url
        # False: ``database_url`` is the portal's database itself (a test's, migrated).
        self.own_database = own_database
        self.s3 = s3  # a tests.services.S3Server, or None for local files
        self.bucket = f"cluster-{secrets.token_hex(4)}"
        self.web_count, self.worker_count = web_nodes, worker_nodes
        self.workers_per_node = workers_per_node
        self.sandbox_user_count = sandbox_users
        self.web: list[Process] = []
        self.workers: list[Process] = []
        self.uploads: list = []  # SandboxRequest, in upload order
        self.database_name = f"portal_cluster_{secrets.token_hex(4)}"
        self._db_created = False
        self.postgres: LocalPostgres | None = None
        self.sandbox = None

    # --- start and stop ----------------------------------------------------------------

    def start(self) -> Cluster:
        atexit.register(self.stop)
        started = time.monotonic()
        self._start_database()
        self.redis = Redis(self.folder / "redis")
        self.redis.start()
        self._start_sandbox()
        self.web_ports = [free_port() for _ in range(self.web_count)]
        self.proxy = RoundRobinProxy(self.web_ports).start()
        self.env = self._node_env()
        log(f"migrating {self.database_name}")
        self.manage("migrate", "--noinput", timeout=600)
        self.web = [self._web_node(i) for i in range(self.web_count)]
        for node in self.web:
            node.start()
        for node, port in zip(self.web, self.web_ports, strict=True):
            wait_healthy(port, node)
        self._set_up_portal()
        self.workers = [self._worker_node(i) for i in range(self.worker_count)]
        log(f"started in {time.monotonic() - started:.0f} s: {self.describe()}")
        return self

    def describe(self) -> str:
        storage = f"S3 ({self.s3.kind})" if self.s3 else f"local files in {self.media_root}"
        return (
            f"PostgreSQL database {self.database_name}, Redis :{self.redis.port}, {storage}, "
            f"sandbox {self.sandbox.api_origin}, web nodes {self.web_ports} behind "
            f":{self.proxy.port}, {self.worker_count} worker nodes"
        )

    def stop(self) -> None:
        for process in [*self.workers, *self.web]:
            process.stop(grace=10)
        if getattr(self, "proxy", None):
            self.proxy.stop()
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
        if getattr(self, "redis", None) and self.redis.process:
            self.redis.process.stop(grace=5)
        if self._db_created:
            with contextlib.suppress(Exception), pg_connect(self.server_url, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
            self._db_created = False
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None

    def _start_database(self) -> None:
        if not self.own_database:
            self.database_url = self.server_url
            self.database_name = urlsplit(self.server_url).path.lstrip("/")
            return
        if not self.server_url:
            self.postgres = LocalPostgres(self.folder / "postgres")
            self.server_url = self.postgres.start()
        with pg_connect(self.server_url, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{self.database_name}"')
        self._db_created = True
        self.database_url = with_database(self.server_url, self.database_name)

    def _start_sandbox(self) -> None:
        from clarius_sandbox import Sandbox
        from clarius_sandbox.video import clip_pool

        self.sandbox = Sandbox().start()
        media_server = self.sandbox._servers[1]
        self.media = CountingMedia(media_server.app)
        media_server.app = self.media
        self.sandbox_users = [
            self.sandbox.add_user(f"Dr. Cluster {i + 1}") for i in range(self.sandbox_user_count)
        ]
        for index in range(clip_pool.size):  # encoded once, before anything is timed
            clip_pool.clip(index)

    def _node_env(self) -> dict:
        from cryptography.fernet import Fernet

        self.media_root = self.folder / "media"
        env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY)}
        env.update(
            # Production mode, as the nodes of a real deployment run.
            DJANGO_SETTINGS_MODULE="portal.settings",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            PORTAL_ENCRYPTION_KEY=Fernet.generate_key().decode(),
            PORTAL_BASE_URL=f"http://127.0.0.1:{self.proxy.port}",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            PORTAL_WORKERS=str(self.workers_per_node),
            CLARIUS_API_URL=self.sandbox.api_url,
            CLARIUS_API_KEY=self.sandbox.api_key,
            CLARIUS_MEDIA_ORIGINS=self.sandbox.media_origin,
            CLARIUS_ALLOW_HTTP="1",
            # The periodic catch-up poll would hide a lost notification: it runs once,
            # at the end, where what it finds is counted.
            CLARIUS_POLL_MINUTES="30000",
            VENV=sys.prefix,
            PYTHONUNBUFFERED="1",
        )
        if self.s3:
            self.s3.client().create_bucket(Bucket=self.bucket)
            env.update(
                PORTAL_STORAGE_URL=self.s3.storage_url(self.bucket),
                PORTAL_STORAGE_ACCESS_KEY_ID=self.s3.access_key,
                PORTAL_STORAGE_SECRET_ACCESS_KEY=self.s3.secret_key,
            )
        else:
            env["PORTAL_MEDIA_ROOT"] = str(self.media_root)
        return env

    def _web_node(self, index: int) -> Process:
        env = {
            **self.env,
            "PORT": str(self.web_ports[index]),
            "BIND_HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "2",
            "PORTAL_MIGRATE_ON_START": "0",
        }
        folder = self.folder / f"web{index + 1}"
        folder.mkdir(exist_ok=True)
        argv = ["bash", str(ROOT / "scripts" / "start-web.sh")]
        return Process(f"web node {index + 1}", argv, env, folder / "web.log")

    def _worker_node(self, index: int) -> Process:
        # Each node its own folders: nothing on disk is shared between worker nodes.
        folder = self.folder / f"worker{index + 1}"
        (folder / "scratch").mkdir(parents=True, exist_ok=True)
        (folder / "tmp").mkdir(exist_ok=True)
        env = {
            **self.env,
            "PORTAL_SCRATCH_DIR": str(folder / "scratch"),
            "TMPDIR": str(folder / "tmp"),
        }
        argv = ["bash", str(ROOT / "scripts" / "start-worker.sh")]
        return Process(f"worker node {index + 1}", argv, env, folder / "worker.log")

    def manage(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def _set_up_portal(self) -> None:
        tokens = [user.customer_token for user in self.sandbox_users]
        result = subprocess.run(
            [sys.executable, "-c", SETUP_SNIPPET, json.dumps(tokens)],
            env={**self.env, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode:
            raise RuntimeError(f"setting up the portal failed:\n{result.stderr[-3000:]}")
        registered = self.sandbox.state.settings["notification_url"]
        assert registered.startswith(f"http://127.0.0.1:{self.proxy.port}/"), registered

    # --- what happens to the nodes ---------------------------------------------------------

    def start_worker(self, index: int) -> None:
        self.workers[index].start()

    def kill_worker(self, index: int) -> None:
        """SIGKILL the node; remember the rows claimed and unfinished at that moment
        (the dead node's among them: the live node finishes its own within seconds)."""
        self.workers[index].kill()
        self.killed_at = self.query("SELECT now()")[0][0]
        self.orphaned = {
            table: [
                r[0]
                for r in self.query(
                    f"SELECT id FROM {table} WHERE state = 'pending' AND claimed_until > now()"  # noqa: S608
                )
            ]
            for table in ("exams_capture", "clarius_notificationreceipt")
        }

    def orphaned_wait(self) -> tuple[int, float | None]:
        """How many rows were held at the kill, and seconds from it until all were done."""
        captures, receipts = (
            self.orphaned["exams_capture"],
            self.orphaned["clarius_notificationreceipt"],
        )
        done = self.query(
            "SELECT max(downloaded_at), count(*) FILTER (WHERE downloaded_at IS NULL)"
            " FROM exams_capture WHERE id = ANY(%s)",
            (captures or [0],),
        )[0]
        fetched = self.query(
            "SELECT max(fetched_at), count(*) FILTER (WHERE fetched_at IS NULL)"
            " FROM clarius_notificationreceipt WHERE id = ANY(%s)",
            (receipts or [0],),
        )[0]
        count = len(captures) + len(receipts)
        if done[1] or fetched[1] or not count:
            return count, None
        last = max(t for t in (done[0], fetched[0]) if t is not None)
        return count, (last - self.killed_at).total_seconds()

    def restart_web(self, index: int) -> None:
        """A rolling restart: out of the proxy's rotation, stopped (gracefully), started,
        back in rotation once it answers."""
        node, port = self.web[index], self.web_ports[index]
        self.proxy.drain(port)
        node.stop(grace=30)
        node.start()
        wait_healthy(port, node)
        self.proxy.restore(port)

    # --- exams -----------------------------------------------------------------------------

    def upload(self, count: int, per_second: float | None = None) -> None:
        """Upload ``count`` exams (their notifications are sent by the sandbox's thread),
        ``per_second`` at a steady rate or all at once."""
        started = time.monotonic()
        for i in range(count):
            if per_second:
                delay = started + i / per_second - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            n = len(self.uploads)
            user = self.sandbox_users[n % len(self.sandbox_users)]
            # Mostly clips, as clinics upload: 1 or 2 clips, and an image every other exam.
            request = self.sandbox.upload_exam(user, captures=n % 2, videos=1 + (n % 3 == 0))
            self.uploads.append(request)

    def wait_delivered(self, timeout: float = 120) -> None:
        self.sandbox.wait_for_deliveries(timeout)

    def query(self, sql: str, params=()) -> list[tuple]:
        with pg_connect(self.database_url) as c:
            return c.execute(sql, params).fetchall()

    def ready_count(self, exam_uuids: list[str]) -> int:
        return self.query(
            "SELECT count(*) FROM exams_exam WHERE status = 'ready' AND exam_uuid = ANY(%s)",
            ([u for u in exam_uuids],),
        )[0][0]

    def wait_ready(self, requests: list, timeout: float, on_tick=None) -> float:
        """Wait until the exams of ``requests`` are ready; returns the seconds waited."""
        uuids = [r.exam_uuid for r in requests]
        started = time.monotonic()
        while True:
            ready = self.ready_count(uuids)
            if ready == len(set(uuids)):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                total = len(set(uuids))
                raise TimeoutError(f"{ready} of {total} exams ready after {timeout:.0f} s")
            for process in self.web + [w for w in self.workers if w.popen is not None]:
                if process.popen is not None and process.popen.poll() not in (None, -9):
                    raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
            if on_tick:
                on_tick()
            time.sleep(0.25)

    def acknowledged(self) -> dict[str, object]:
        """request_uuid -> the notification record, for every 2xx answer."""
        records = self.sandbox.state.records_newest_first()
        return {
            r.request_uuid: r
            for r in records
            if r.response is not None and 200 <= r.response["status_code"] < 300
        }

    # --- the checks ------------------------------------------------------------------------

    def check(self) -> dict:
        """Every check of the end state; returns counts, raises AssertionError on a fault."""
        acked = self.acknowledged()
        uploads = {r.request_uuid: r for r in self.uploads}
        missing_acks = sorted(set(uploads) - set(acked))
        answers = [
            r.error or r.response
            for r in self.sandbox.state.records_newest_first()
            if r.request_uuid in missing_acks
        ]
        assert not missing_acks, f"{len(missing_acks)} notification(s) not acknowledged: {answers}"

        rows = self.query(
            """
            SELECT s.request_uuid::text, e.status, c.state, c.source_url, c.file, c.size,
                   c.sha256, c.attempts, c.duplicate_of_id
            FROM exams_submission s
            JOIN exams_exam e ON e.id = s.exam_id
            LEFT JOIN exams_capture c ON c.submission_id = s.id
            """
        )
        by_request: dict[str, list] = {}
        for row in rows:
            by_request.setdefault(row[0], []).append(row)
        not_ready, wrong_count, not_stored = [], [], []
        attempts_of: dict[str, int] = {}
        for request_uuid, upload in uploads.items():
            captures = by_request.get(request_uuid, [])
            if not captures or any(c[1] != "ready" for c in captures):
                not_ready.append(request_uuid)
                continue
            if len([c for c in captures if c[2] == "done"]) != len(upload.capture_uuids):
                wrong_count.append(request_uuid)
            for c in captures:
                match = CAPTURE_PATH.search(c[3] or "")
                if match:
                    attempts_of[match.group(1)] = c[7]
                if not self.stored(c[4], c[5], c[6]):
                    not_stored.append(c[4])
        assert not not_ready, f"{len(not_ready)} acknowledged exam(s) not ready"
        assert not wrong_count, f"{len(wrong_count)} exam(s) without all their captures"
        assert not not_stored, f"{len(not_stored)} capture(s) missing from the store"

        # Downloads: a capture sent to the end more than once is only allowed after an
        # attempt that ended without an outcome (its node was killed): never two live claims.
        twice = {u: n for u, n in self.media.completed.items() if n > 1}
        doubled = [u for u, n in twice.items() if n > attempts_of.get(u, 0)]
        assert not doubled, f"{len(doubled)} capture(s) downloaded twice to completion"

        duplicates = {
            "exams": "SELECT institution_id, exam_uuid FROM exams_exam GROUP BY 1, 2",
            "submissions": "SELECT request_uuid FROM exams_submission GROUP BY 1",
            "receipts": "SELECT request_uuid FROM clarius_notificationreceipt"
            " WHERE request_uuid IS NOT NULL GROUP BY 1",
            "captures": "SELECT submission_id, position FROM exams_capture GROUP BY 1, 2",
        }
        for name, grouped in duplicates.items():
            sql = f"SELECT count(*) FROM ({grouped} HAVING count(*) > 1) d"  # noqa: S608
            found = self.query(sql)[0][0]
            assert found == 0, f"{found} duplicate {name}"
        exams = self.query("SELECT count(*) FROM exams_exam")[0][0]
        expected = len({r.exam_uuid for r in self.uploads})
        assert exams == expected, f"{exams} exams for {expected} uploaded"

        polled = self.manage("clarius", "poll")
        new = re.search(r"new: (\d+)", polled)
        assert new and new.group(1) == "0", f"the catch-up poll found missing exams: {polled}"
        from_poll = self.query(
            "SELECT count(*) FROM clarius_notificationreceipt WHERE source = 'poll'"
        )[0][0]
        assert from_poll == 0, f"{from_poll} exam(s) were only found by the catch-up poll"
        return {
            "acknowledged": len(acked),
            "captures": sum(len(u.capture_uuids) for u in self.uploads),
            "downloaded_again_after_a_dead_attempt": len(twice),
            "poll": polled.strip(),
        }

    def stored(self, name: str, size: int | None, sha256: str) -> bool:
        """The capture's object is in the store with its size and checksum."""
        if not name:
            return False
        if self.s3:
            if not hasattr(self, "_s3_client"):
                self._s3_client = self.s3.client()
            try:
                body = self._s3_client.get_object(Bucket=self.bucket, Key=name)["Body"].read()
            except Exception:  # noqa: BLE001 - NoSuchKey and friends: not stored
                return False
        else:
            try:
                body = (self.media_root / name).read_bytes()
            except OSError:
                return False
        return len(body) == size and hashlib.sha256(body).hexdigest() == sha256


# --- the run ----------------------------------------------------------------------------


def run(
    cluster: Cluster,
    exams: int,
    batch: int,
    settle: float,
    per_second: float | None = None,
    longest: float = 600,
) -> Figures:
    """The scenario: 1 node, 2 nodes, then kill / restart while exams keep arriving.

    The rest arrive at ``per_second``, by default 70 % of what one node did (one node is
    left after the kill, so no backlog hides the wait for the dead node's work), but fast
    enough to be done within ``longest`` seconds.
    """
    figures = Figures(exams=exams)
    warm = 4  # not timed: the first requests and tasks of every process load code
    rest = exams - 2 * batch - warm
    if rest < 4:
        raise ValueError("exams must exceed twice the batch by a few")

    cluster.start_worker(0)
    cluster.upload(warm)
    cluster.wait_ready(cluster.uploads, timeout=settle + 600)
    first = time.monotonic()
    cluster.upload(batch)
    cluster.wait_ready(cluster.uploads[-batch:], timeout=settle + 600)
    figures.one_node_per_minute = batch / (time.monotonic() - first) * 60
    log(f"1 worker node: {figures.one_node_per_minute:.0f} exams/minute")

    cluster.start_worker(1)
    time.sleep(2)
    first = time.monotonic()
    cluster.upload(batch)
    cluster.wait_ready(cluster.uploads[-batch:], timeout=settle + 600)
    figures.two_nodes_per_minute = batch / (time.monotonic() - first) * 60
    log(f"2 worker nodes: {figures.two_nodes_per_minute:.0f} exams/minute")

    # The rest at a steady rate, with the faults spread over it.
    events = [
        (0.25, "SIGKILL worker node 2 (its process group)", lambda: cluster.kill_worker(1)),
        (0.5, "restart Redis", cluster.redis.restart),
        (0.75, "restart web node 1", lambda: cluster.restart_web(0)),
    ]
    if per_second is None:
        per_second = max(0.7 * figures.one_node_per_minute / 60, rest / longest)
    figures.rate = per_second
    log(f"{rest} exams at {per_second * 60:.0f} a minute while nodes fail")
    uploader = threading.Thread(target=cluster.upload, args=(rest, per_second), daemon=True)
    started = time.monotonic()
    uploader.start()
    duration = rest / per_second
    for at, what, action in events:
        time.sleep(max(0.0, started + at * duration - time.monotonic()))
        began = time.monotonic() - started
        action()
        took = time.monotonic() - started - began
        figures.events.append(f"{began:6.1f} s into the arrivals: {what} (took {took:.1f} s)")
        log(what)
    uploader.join()
    cluster.wait_delivered(timeout=120)
    last_notification = max(r.sent_at for r in cluster.acknowledged().values())
    figures.not_ready_at_last_notification = len(cluster.uploads) - cluster.ready_count(
        [r.exam_uuid for r in cluster.uploads]
    )
    log(f"all {exams} notifications sent; waiting for the last exams")
    try:
        waited = cluster.wait_ready(cluster.uploads, timeout=settle)
        log(f"all exams ready {waited:.0f} s after the last upload was delivered")
    except TimeoutError as e:
        log(str(e))
    last_ready = cluster.query(
        "SELECT max(updated_at), count(*) FILTER (WHERE status <> 'ready') FROM exams_exam"
    )[0]
    if last_ready[1] == 0:
        figures.last_exam_wait = max(0.0, (last_ready[0] - last_notification).total_seconds())
    figures.orphaned_rows, figures.orphaned_wait = cluster.orphaned_wait()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exams", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=200, help="exams timed per node count")
    parser.add_argument(
        "--rate", type=float, help="exams per second while nodes fail (default: 70%% of 1 node)"
    )
    parser.add_argument(
        "--longest", type=float, default=900, help="seconds the failing part may last at most"
    )
    parser.add_argument("--settle", type=float, default=900, help="seconds to wait at the end")
    parser.add_argument("--database-url", default=os.environ.get("CLUSTER_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the cluster's folder")
    parser.add_argument(
        "--local-storage", action="store_true", help="one shared media folder instead of S3"
    )
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="portal-cluster-"))
    if os.geteuid() == 0:
        os.chmod(folder, 0o755)  # noqa: S103 - the postgres user reaches its data inside
    s3 = None
    if not args.local_storage:
        import pytest

        from tests.services import s3 as start_s3

        try:
            s3 = start_s3()
            atexit.register(s3.stop)
        except pytest.skip.Exception as e:
            log(f"no S3 server ({e.msg}): local storage instead")
    cluster = Cluster(folder, database_url=args.database_url, s3=s3)
    try:
        cluster.start()
        figures = run(cluster, args.exams, args.batch, args.settle, args.rate, args.longest)
        counts = cluster.check()
    finally:
        cluster.stop()
        if s3 is not None:
            s3.stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    for line in figures.lines():
        print(line)
    print(f"checks passed: {json.dumps(counts)}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
