import pytest
from django.core.exceptions import ImproperlyConfigured

from portal import env
from tests.subprocesses import clean_env, run_manage


def test_it_reads_booleans():
    assert env.env_bool("X", environ={"X": "yes"}) is True
    assert env.env_bool("X", environ={"X": "0"}) is False
    assert env.env_bool("X", True, environ={}) is True


def test_it_names_the_variable_of_a_malformed_boolean():
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG: expected a boolean"):
        env.env_bool("DJANGO_DEBUG", environ={"DJANGO_DEBUG": "maybe"})


def test_it_reads_and_checks_integers():
    assert env.env_int("N", 3, environ={"N": " 7 "}) == 7
    assert env.env_int("N", 3, environ={}) == 3
    with pytest.raises(ImproperlyConfigured, match="PORTAL_WORKERS: expected an integer"):
        env.env_int("PORTAL_WORKERS", 2, environ={"PORTAL_WORKERS": "two"})
    with pytest.raises(ImproperlyConfigured, match="PORTAL_WORKERS: must be at least 1"):
        env.env_int("PORTAL_WORKERS", 2, environ={"PORTAL_WORKERS": "0"}, minimum=1)


def test_it_reads_a_value_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    assert env.env_str("KEY", environ={"KEY_FILE": str(secret)}) == "s3cr3t"
    with pytest.raises(ImproperlyConfigured, match="KEY_FILE: cannot read"):
        env.env_str("KEY", environ={"KEY_FILE": str(tmp_path / "missing")})


def test_it_splits_lists():
    assert env.env_list("H", environ={"H": "a.example, b.example,,"}) == ["a.example", "b.example"]


def test_it_parses_sqlite_urls_relative_to_the_project(tmp_path):
    config = env.parse_database_url("DATABASE_URL", "sqlite:///var/x.sqlite3", tmp_path)
    assert config == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "var/x.sqlite3"),
    }
    absolute = env.parse_database_url("DATABASE_URL", "sqlite:////tmp/y.sqlite3", tmp_path)
    assert absolute["NAME"] == "/tmp/y.sqlite3"


def test_it_parses_postgres_urls(tmp_path):
    config = env.parse_database_url(
        "DATABASE_URL", "postgres://portal:pw@db.internal:5433/portal", tmp_path
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["HOST"], config["PORT"]) == (
        "portal",
        "portal",
        "db.internal",
        5433,
    )


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:p@h/db",
        "nonsense",
        "sqlite://",
        "postgres://u:p@h:5432/",
        "postgres://h:notaport/db",
    ],
)
def test_it_refuses_malformed_database_urls(url, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="^DATABASE_URL: "):
        env.parse_database_url("DATABASE_URL", url, tmp_path)


def test_it_masks_the_password_of_a_refused_database_url(tmp_path):
    with pytest.raises(ImproperlyConfigured) as caught:
        env.parse_database_url("DATABASE_URL", "mysql://user:hunter2@h/db", tmp_path)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://cache:6380/1", "unix:///run/r.sock"]
)
def test_it_accepts_redis_urls(url):
    assert env.parse_redis_url("REDIS_URL", url) == url


@pytest.mark.parametrize("url", ["http://x:6379", "127.0.0.1:6379", "redis://h:port/0"])
def test_it_refuses_malformed_redis_urls(url):
    with pytest.raises(ImproperlyConfigured, match="^REDIS_URL: "):
        env.parse_redis_url("REDIS_URL", url)


def test_it_normalises_the_base_url_to_an_origin():
    assert env.parse_http_url(
        "PORTAL_BASE_URL", "https://portal.example.com/", origin_only=True
    ) == ("https://portal.example.com")
    with pytest.raises(ImproperlyConfigured, match="PORTAL_BASE_URL: expected an origin"):
        env.parse_http_url("PORTAL_BASE_URL", "https://portal.example.com/app", origin_only=True)
    with pytest.raises(ImproperlyConfigured, match="PORTAL_BASE_URL: expected an http"):
        env.parse_http_url("PORTAL_BASE_URL", "ftp://portal.example.com", origin_only=True)


def test_it_parses_media_origins():
    assert env.parse_origins(
        "CLARIUS_MEDIA_ORIGINS", "https://*.amazonaws.com, http://127.0.0.1:8101"
    ) == ["https://*.amazonaws.com", "http://127.0.0.1:8101"]


@pytest.mark.parametrize(
    "value",
    [
        "amazonaws.com",
        "https://*amazonaws.com",
        "https://a.com/path",
        "s3://bucket",
        "https://h:99999",
    ],
)
def test_it_refuses_malformed_media_origins(value):
    with pytest.raises(ImproperlyConfigured, match="^CLARIUS_MEDIA_ORIGINS: "):
        env.parse_origins("CLARIUS_MEDIA_ORIGINS", value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://u:p@h/db"),
        ("REDIS_URL", "http://not-redis"),
        ("DJANGO_DEBUG", "maybe"),
        ("PORTAL_BASE_URL", "portal.example.com"),
        ("CLARIUS_API_URL", "file:///etc/passwd"),
        ("CLARIUS_MEDIA_ORIGINS", "https://a.com/x"),
        ("PORTAL_WORKERS", "many"),
    ],
)
def test_the_portal_refuses_to_start_with_a_malformed_variable(variable, value, tmp_path):
    result = run_manage(clean_env(tmp_path, **{variable: value}), "check")
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {variable}" in result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_manage(clean_env(tmp_path, DJANGO_DEBUG=None), "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY: required" in result.stderr


def test_production_settings_pass_check_deploy_with_https(tmp_path):
    env_vars = clean_env(
        tmp_path,
        DJANGO_DEBUG=None,
        DJANGO_SECRET_KEY="x" * 20 + "-production-secret-key-with-enough-entropy-1234567890",
        DJANGO_ALLOWED_HOSTS="portal.example.com",
        PORTAL_BASE_URL="https://portal.example.com",
    )
    result = run_manage(env_vars, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_over_plain_http_is_warned_about(tmp_path):
    env_vars = clean_env(
        tmp_path,
        DJANGO_DEBUG=None,
        DJANGO_SECRET_KEY="x" * 20 + "-production-secret-key-with-enough-entropy-1234567890",
        PORTAL_BASE_URL="http://portal.example.com",
    )
    result = run_manage(env_vars, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_immediate_transactions(tmp_path):
    code = (
        "from django.db import connection as c; cur = c.cursor(); "
        "cur.execute('PRAGMA journal_mode'); print(cur.fetchone()[0]); "
        "cur.execute('PRAGMA busy_timeout'); print(cur.fetchone()[0]); "
        "print(c.settings_dict['OPTIONS']['transaction_mode'])"
    )
    result = run_manage(clean_env(tmp_path), "shell", "-v", "0", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "20000", "IMMEDIATE"]
