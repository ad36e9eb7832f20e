"""The portal as a cluster on this machine (scripts/cluster.py), smaller than `make cluster`.

PostgreSQL, Redis, an S3 server, 2 gunicorn web nodes behind a round-robin proxy and 2
qcluster nodes with their own folders; the sandbox delivers exams (images and clips)
while a worker node is SIGKILLed, Redis restarts and a web node restarts. It runs in the
PostgreSQL + Redis run of CI (TEST_POSTGRES=1), on the test database (migrated already,
emptied after the test); Redis, the S3 server and the nodes are its own.
"""

import importlib.util
import os
import sys

import pytest

from tests.services import s3, tool
from tests.subprocesses import ROOT

# Bounded for CI (2 cores, a few minutes): `make cluster` delivers 2,000. A busy
# machine may run it smaller: CLUSTER_TEST_EXAMS=60 CLUSTER_TEST_BATCH=10.
EXAMS = int(os.environ.get("CLUSTER_TEST_EXAMS", 120))
BATCH = int(os.environ.get("CLUSTER_TEST_BATCH", 20))  # timed with 1 worker node, then 2
LONGEST = 60  # seconds of exams arriving while nodes fail, at most
# A dead node's claims expire within 60 s (portal/work/heartbeat.py): its work is done,
# and the last exam ready, at most that, a sweep and a download later.
LAST_EXAM_WAIT = 90.0


def load_cluster():
    spec = importlib.util.spec_from_file_location("cluster", ROOT / "scripts" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cluster"] = module
    spec.loader.exec_module(module)
    return module


def heartbeats_in_place() -> bool:
    return importlib.util.find_spec("portal.work.heartbeat") is not None


@pytest.fixture
def postgres_database(request):
    """The test database's URL, for the nodes; the test's rows are flushed after it."""
    if os.environ.get("TEST_POSTGRES") != "1":
        pytest.skip("the cluster runs in the PostgreSQL run (TEST_POSTGRES=1, DATABASE_URL)")
    request.getfixturevalue("transactional_db")
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the cluster runs on PostgreSQL: DATABASE_URL names a SQLite database")
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def s3_server():
    server = s3()
    yield server
    server.stop()


def test_a_cluster_loses_no_exam_while_nodes_fail(postgres_database, s3_server, tmp_path, capsys):
    tool("redis-server", "redis-server")
    cluster_module = load_cluster()
    cluster = cluster_module.Cluster(
        tmp_path / "cluster", database_url=postgres_database, own_database=False, s3=s3_server
    )
    try:
        cluster.start()
        # Generous at the end: before heartbeats, a dead node held its claims 10 minutes.
        settle = 180 if heartbeats_in_place() else 900
        figures = cluster_module.run(cluster, EXAMS, BATCH, settle, longest=LONGEST)
        counts = cluster.check()
    finally:
        cluster.stop()
    with capsys.disabled():
        print("\n" + "\n".join(f"[cluster] {line}" for line in figures.lines()))
        print(f"[cluster] {counts}")
    assert figures.last_exam_wait is not None
    if heartbeats_in_place():
        # Exams still waiting when the last notification came (a machine slower than
        # the steady rate) take one node their share of time on top: the dead node's
        # work, queued again, waits behind them too.
        backlog = figures.not_ready_at_last_notification / figures.one_node_per_minute * 60
        assert figures.orphaned_wait is None or figures.orphaned_wait <= LAST_EXAM_WAIT + backlog
        assert figures.last_exam_wait <= LAST_EXAM_WAIT + backlog
