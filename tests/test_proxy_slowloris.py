"""The production front server: nginx from deploy/nginx/, in front of the real web process.

gunicorn's sync workers read one request at a time, so a few clients trickling headers
hold every worker and /healthz waits. nginx buffers whole requests first; these tests
run the repo's config in front of gunicorn (started by scripts/start-web.sh) and of a
live server, and check slow clients, private media and the client's address through it.
"""

import contextlib
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from portal.exams.models import AuditEvent
from tests import services
from tests.factories import PNG, make_exam

ROOT = Path(__file__).resolve().parent.parent


def script(name):
    """A module from scripts/ (not a package: the scripts also run on their own)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


slowloris = script("slowloris")
nginx_front = script("nginx_front")


def wait_for(url, process, seconds, host=None):
    deadline = time.monotonic() + seconds
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args[0]} exited with {process.returncode}"
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {seconds} s")


def stop(process):
    """TERM the process group, KILL it if it lingers; nothing it forked survives."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=5)


def start_nginx(workdir, upstream, media_root):
    binary = services.nginx()
    http_port = services.closed_port()
    conf = nginx_front.prepare(
        workdir,
        http=f"127.0.0.1:{http_port}",
        https=f"127.0.0.1:{services.closed_port()}",
        upstream=upstream,
        media_root=media_root,
        user="root" if os.geteuid() == 0 else "nobody",
    )
    log = open(workdir / "nginx.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        nginx_front.command(conf, binary), stdout=log, stderr=log, start_new_session=True
    )
    process.log = log
    return process, http_port


@pytest.fixture
def gunicorn(tmp_path):
    """scripts/start-web.sh in production mode, 2 sync workers, on a loopback port."""
    port = services.closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'web.sqlite3'}",
        PORTAL_BASE_URL="http://127.0.0.1",
        PORTAL_MIGRATE_ON_START="0",
        PORTAL_MEDIA_ROOT=str(tmp_path / "media"),
        PORT=str(port),
        BIND_HOST="127.0.0.1",
        WEB_CONCURRENCY="2",
        VENV=sys.prefix,
    )
    log = open(tmp_path / "web.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "start-web.sh")],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process, 30)
        yield port
    finally:
        stop(process)
        log.close()


@pytest.fixture
def front(tmp_path, gunicorn):
    """nginx from the repo's config in front of ``gunicorn``; yields its HTTP port."""
    (tmp_path / "media").mkdir(exist_ok=True)
    process, port = start_nginx(tmp_path / "nginx", f"127.0.0.1:{gunicorn}", tmp_path / "media")
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process, 10)
        yield port
    finally:
        stop(process)
        process.log.close()


def test_it_answers_healthz_at_once_while_slow_clients_hold_more_connections_than_workers(
    front, gunicorn
):
    through_nginx = slowloris.probe("127.0.0.1", front, connections=10, seconds=4, settle=1)
    assert through_nginx["held"] == 10, "nginx dropped the slow clients: the probe proved nothing"
    assert through_nginx["status"] == 200
    assert through_nginx["seconds"] < 1.0

    # The same probe straight at gunicorn: both workers are stuck on slow headers.
    direct = slowloris.probe("127.0.0.1", gunicorn, connections=10, seconds=3, settle=1)
    assert direct["status"] is None or direct["seconds"] > 1.5


@pytest.fixture
def portal_behind_nginx(live_server, settings, tmp_path):
    """nginx in front of the live server, with the settings compose.yaml gives web."""
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    settings.PORTAL_MEDIA_ACCEL_REDIRECT = "/protected-media/"
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    (tmp_path / "media").mkdir()
    upstream = urlsplit(live_server.url)
    process, port = start_nginx(
        tmp_path / "nginx", f"127.0.0.1:{upstream.port}", settings.PORTAL_MEDIA_ROOT
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process, 10)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        process.log.close()


def get(url, **headers):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@pytest.mark.django_db(transaction=True)
def test_it_sends_private_media_from_nginx_to_the_member_the_portal_authorised(
    portal_behind_nginx, bob, northside
):
    capture = make_exam(northside, bob).captures.get()
    browser = Client()
    browser.force_login(bob)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    url = portal_behind_nginx + reverse("api-capture-media", args=[capture.pk])

    status, headers, body = get(url, Cookie=cookie, **{"X-Forwarded-For": "203.0.113.9"})

    assert status == 200
    assert body == PNG
    assert headers["Content-Type"] == "image/png"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in headers["Cache-Control"]
    assert "X-Accel-Redirect" not in headers
    # The forged X-Forwarded-For entry is ignored: the audit log has nginx's view.
    event = AuditEvent.objects.get(action=AuditEvent.Action.OPEN_MEDIA)
    assert event.ip_address == "127.0.0.1"


@pytest.mark.django_db(transaction=True)
def test_it_refuses_the_internal_media_location_to_a_request_from_outside(
    portal_behind_nginx, bob, northside
):
    capture = make_exam(northside, bob).captures.get()

    status, _, body = get(f"{portal_behind_nginx}/protected-media/{capture.file}")

    assert status == 404
    assert PNG not in body
    assert get(f"{portal_behind_nginx}/protected-media/")[0] == 404
