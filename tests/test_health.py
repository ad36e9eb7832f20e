import json

from django.urls import reverse

from tests.services import closed_port, redis_url
from tests.subprocesses import clean_env, get_in_child


def test_healthz_answers_when_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_checks_the_database_and_the_broker(client, db):
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_probes_only_answer_get(client, db):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_readyz_is_503_naming_the_database_when_it_is_unreachable(tmp_path):
    env = clean_env(tmp_path, DATABASE_URL=f"postgres://portal:pw@127.0.0.1:{closed_port()}/portal")
    status, body = get_in_child(env, "/readyz")
    assert status == 503
    data = json.loads(body)
    assert data["failing"][0] == "database"
    assert data["checks"]["database"].startswith("unavailable")
    assert "pw" not in body


def test_healthz_stays_up_when_the_database_is_down(tmp_path):
    env = clean_env(tmp_path, DATABASE_URL=f"postgres://portal:pw@127.0.0.1:{closed_port()}/portal")
    assert get_in_child(env, "/healthz")[0] == 200


def test_readyz_is_503_naming_the_broker_when_redis_is_unreachable(tmp_path):
    env = clean_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    status, body = get_in_child(env, "/readyz")
    assert status == 503
    data = json.loads(body)
    assert data["failing"] == ["broker"]
    assert data["checks"]["database"] == "ok"


def test_readyz_is_200_on_a_real_redis_broker(tmp_path):
    env = clean_env(tmp_path, REDIS_URL=redis_url())
    status, body = get_in_child(env, "/readyz")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "broker": "ok"}


def test_probes_answer_whatever_the_host_header(client, db, settings):
    settings.ALLOWED_HOSTS = ["portal.example.org"]
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/accounts/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400
