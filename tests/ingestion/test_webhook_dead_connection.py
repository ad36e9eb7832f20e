"""The webhook skips Django's health-check round trip and survives a dropped connection.

Before a request's first query Django checks a reused PostgreSQL connection with a round
trip (``CONN_HEALTH_CHECKS``). The webhook sends its INSERT straight away instead; when
the server dropped the connection while it sat idle (a restart, an idle timeout) the
INSERT is sent once more on a new one. PostgreSQL only: SQLite has no server to drop it.
The SQLite run of ``.ci/run`` leaves this file out.
"""

import json
import time

import psycopg
import pytest
from django.db import connection, connections
from django.urls import reverse

from integrations.clarius.account.registration import active_endpoint
from integrations.clarius.models import ClariusLink, NotificationReceipt
from tests.ingestion.test_webhook import TOKEN, payload


@pytest.fixture
def postgres(transactional_db, settings):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: this file runs in the PostgreSQL run of .ci/run")
    # As a node runs: tasks are not run in the web process.
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False, "orm": "default"}
    settings.Q_CLUSTER.pop("redis", None)


def post(client, url):
    return client.post(url, json.dumps(payload()), content_type="application/json")


def terminate(backend_pid: int) -> None:
    """Drop a connection from the server's side, as a restart would, and wait until gone."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
        for _ in range(100):
            alive = other.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend_pid]
            ).fetchone()[0]
            if not alive:
                return
            time.sleep(0.05)
    raise AssertionError("the backend did not end")


def test_the_webhook_sends_its_insert_first_and_survives_a_dropped_connection(
    postgres, client, bob, northside, monkeypatch
):
    ClariusLink.objects.create(
        token=TOKEN, user=bob, institution=northside, state=ClariusLink.State.CONFIRMED
    )
    url = reverse("clarius-notifications", args=[active_endpoint().secret])
    assert post(client, url).status_code == 202
    assert connection.connection is not None  # kept open for the next call (CONN_MAX_AGE)

    # A kept connection: the INSERT is the only round trip (no health check before it).
    checks, sent = [], []
    monkeypatch.setattr(connections["default"], "is_usable", lambda: checks.append(1) or True)
    with connection.execute_wrapper(lambda run, sql, *rest: sent.append(sql) or run(sql, *rest)):
        assert post(client, url).status_code == 202
    assert checks == []
    assert len(sent) == 1 and sent[0].startswith("INSERT")
    monkeypatch.undo()

    # The server drops the idle connection: the call is still answered 202 and stored.
    terminate(connection.connection.info.backend_pid)
    assert post(client, url).status_code == 202
    assert NotificationReceipt.objects.filter(state="pending").count() == 3
