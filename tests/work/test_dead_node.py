"""A worker node SIGKILLed mid-task: another node picks its row up within a lease.

Real ``manage.py qcluster`` processes: on PostgreSQL with the Redis broker (the
production setup; CI's PostgreSQL run), and on SQLite with the ORM broker (the embedded
default). Node A claims an email and hangs while sending it; once its heartbeat has
renewed the claim, the whole node (master and children) is SIGKILLed. Node B, idle,
must send the email within a lease plus a watch period of the kill. The test uses a
short lease (6 s) so it stays quick; production's default is 40 s plus 10 s.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from portal.notifications.models import Email
from tests import services
from tests.subprocesses import ROOT
from tests.work.conftest import queued_email

# TEST_WORK_LEASE_SECONDS=40 TEST_WORK_SWEEP_SECONDS=10 measures production's defaults.
LEASE = int(os.environ.get("TEST_WORK_LEASE_SECONDS", "6"))
WATCH = int(os.environ.get("TEST_WORK_SWEEP_SECONDS", "2"))
# Slack over lease + watch: queueing, a worker taking the task, a loaded CI machine.
SLACK = 4


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def node_env(tmp_path, **extra) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "PORTAL_", "SLOW_MAIL_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.work.cluster_settings",
        DATABASE_URL=database_url(),
        PYTHONPATH=str(ROOT),
        PORTAL_WORK_LEASE_SECONDS=str(LEASE),
        PORTAL_WORK_SWEEP_SECONDS=str(WATCH),
        PORTAL_TEST_Q_NAME=f"dead-node-{uuid.uuid4().hex[:8]}",
        PORTAL_MEDIA_ROOT=str(tmp_path / "media"),
    )
    if connection.vendor != "sqlite":
        env["REDIS_URL"] = services.redis_url()
    env.update(extra)
    return env


class Node:
    """One ``manage.py qcluster`` in a process group of its own (so all of it can die)."""

    def __init__(self, name, env, tmp_path):
        self.log = tmp_path / f"{name}.log"
        self._out = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            env=env,
            cwd=ROOT,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_running(self, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if " running." in self.text():
                return
            assert self.process.poll() is None, f"the node exited:\n{self.text()[-3000:]}"
            time.sleep(0.1)
        raise AssertionError(f"the node did not start:\n{self.text()[-3000:]}")

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        else:  # the master is gone: make sure none of its children outlived it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._out.close()


def poll(predicate, seconds, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


@pytest.mark.django_db(transaction=True)
def test_a_killed_nodes_work_is_picked_up_by_another_node_within_a_lease(northside, tmp_path):
    Schedule.objects.all().delete()  # only the work of this test runs on the nodes
    email = queued_email(northside)
    marker = tmp_path / "sending"
    a_env = node_env(tmp_path, SLOW_MAIL_MARKER=str(marker), SLOW_MAIL_SECONDS="120")
    # Node B takes tasks from a queue of its own: the email can reach it only through
    # its watch, which finds node A's claim run out. Both start at once (time matters).
    b_env = {**a_env, "PORTAL_TEST_Q_NAME": a_env["PORTAL_TEST_Q_NAME"] + "-b"}
    del b_env["SLOW_MAIL_MARKER"]
    nodes = []
    try:
        a = Node("node-a", a_env, tmp_path)
        nodes.append(a)
        b = Node("node-b", b_env, tmp_path)
        nodes.append(b)
        # Queue the email's task on node A's queue, as the portal does.
        nudge = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django, sys; django.setup()\n"
                "from portal.notifications.models import Email\n"
                "from portal.work.registry import nudge_pk\n"
                "nudge_pk(Email, int(sys.argv[1]))\n",
                str(email.pk),
            ],
            env=a_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert nudge.returncode == 0, nudge.stderr
        assert poll(marker.exists, 90), f"node A never started sending:\n{a.text()[-3000:]}"
        email.refresh_from_db()
        assert email.attempts == 1 and email.state == "queued"
        claim = email.last_attempt_at
        b.wait_running(90)

        # Kill node A just after its heartbeat renewed the claim: the longest wait.
        first_until = Email.objects.get(pk=email.pk).claimed_until

        def renewed():
            until = Email.objects.get(pk=email.pk).claimed_until
            return until if until != first_until else None

        until = poll(renewed, LEASE, step=0.01)
        assert until, "node A's heartbeat never renewed its claim"
        a.kill()
        killed_at = timezone.now()

        def picked_up():
            row = Email.objects.get(pk=email.pk)
            return row if row.last_attempt_at != claim else None

        again = poll(picked_up, LEASE + WATCH + 30)
        assert again, f"no node picked the row up:\n{b.text()[-3000:]}"
        waited = (again.last_attempt_at - killed_at).total_seconds()
        print(
            f"\n{connection.vendor}: killed node's work picked up {waited:.1f} s after the "
            f"kill (lease {LEASE} s, watch {WATCH} s; claim had {until - killed_at} left)"
        )
        assert waited <= LEASE + WATCH + SLACK
        assert again.attempts == 2
        sent = poll(lambda: Email.objects.filter(pk=email.pk, state="sent").first(), 30)
        assert sent, f"node B did not send the email:\n{b.text()[-3000:]}"
        assert sent.claimed_until is None and sent.next_attempt_at is None
        assert "ran out" in b.text()  # node B's watch handed it out, not a schedule
    finally:
        for node in nodes:
            node.stop()
