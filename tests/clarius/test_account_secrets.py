"""Secrets at rest: PORTAL_ENCRYPTION_KEY, its rotation, and production without it."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from integrations.clarius.account import keys, rotation
from integrations.clarius.models import ResearchAccount, ServiceApiKey
from portal import encryption as secrets
from tests.conftest import make_user
from tests.subprocesses import clean_env, run_manage

KEY = "Q4nmtzH5.mvIzWOlklcrFJ3iWaJTFESYCzCe8j6TQ"


def raw_column(table, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608 - test constants
        return [row[0] for row in cursor.fetchall()]


def test_it_refuses_a_malformed_key_without_echoing_it():
    with pytest.raises(ImproperlyConfigured, match="PORTAL_ENCRYPTION_KEY: key #2") as info:
        secrets.parse_encryption_keys(
            f"{Fernet.generate_key().decode()}, not-a-key-at-all", debug=False, secret_key="s"
        )
    assert "not-a-key-at-all" not in str(info.value)


def test_development_derives_a_stable_key_and_production_has_none():
    first = secrets.parse_encryption_keys(None, debug=True, secret_key="dev")
    assert first == secrets.parse_encryption_keys("", debug=True, secret_key="dev")
    assert Fernet(first[0])  # a valid Fernet key
    assert secrets.parse_encryption_keys(None, debug=False, secret_key="dev") == []


def test_the_key_can_come_from_a_file(tmp_path):
    key = Fernet.generate_key().decode()
    (tmp_path / "key").write_text(key + "\n")
    snippet = "from django.conf import settings; print(settings.PORTAL_ENCRYPTION_KEYS[0])"
    env = clean_env(tmp_path, PORTAL_ENCRYPTION_KEY_FILE=str(tmp_path / "key"))
    result = run_manage(env, "shell", "-c", snippet)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == key


def test_a_malformed_key_stops_the_process_at_start_up(tmp_path):
    result = run_manage(clean_env(tmp_path, PORTAL_ENCRYPTION_KEY="nope"), "check")
    assert result.returncode != 0
    assert "PORTAL_ENCRYPTION_KEY: key #1 is not a Fernet key" in result.stderr


def test_the_stored_key_is_encrypted_in_the_database(db, settings):
    settings.CLARIUS_API_KEY = KEY
    assert keys.api_key_in_use() == KEY
    (stored,) = raw_column("clarius_serviceapikey", "key_encrypted")
    assert KEY not in stored and KEY.split(".")[1] not in stored
    assert Fernet(settings.PORTAL_ENCRYPTION_KEYS[0]).decrypt(stored.encode()).decode() == KEY


def test_production_without_a_key_uses_the_environment_and_stores_nothing(db, settings):
    settings.PORTAL_ENCRYPTION_KEYS = []
    settings.CLARIUS_API_KEY = KEY
    assert keys.api_key_in_use() == KEY
    assert not ServiceApiKey.objects.exists()
    with pytest.raises(ImproperlyConfigured, match="PORTAL_ENCRYPTION_KEY: required"):
        rotation.rotate()


def test_production_refuses_to_read_a_stored_key_without_the_encryption_key(db, settings):
    settings.CLARIUS_API_KEY = KEY
    keys.api_key_in_use()
    settings.PORTAL_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="PORTAL_ENCRYPTION_KEY: required"):
        keys.api_key_in_use()


def test_the_encryption_key_is_rotated_with_reencrypt_secrets(db, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEYS = [old]
    settings.CLARIUS_API_KEY = KEY
    keys.api_key_in_use()
    ResearchAccount.objects.create(
        user=make_user("r@example.org"),
        username="r@example.org",
        token_encrypted=secrets.encrypt("research-token-0123456789"),
        connected_at="2026-01-01T00:00Z",
    )
    settings.PORTAL_ENCRYPTION_KEYS = [new]
    with pytest.raises(ImproperlyConfigured, match="no configured key decrypts"):
        keys.api_key_in_use()
    with pytest.raises(CommandError, match="Nothing changed"):
        call_command("reencrypt_secrets")

    settings.PORTAL_ENCRYPTION_KEYS = [new, old]  # new first: it encrypts, both decrypt
    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "Re-encrypted 2 secret(s)" in out.getvalue()

    settings.PORTAL_ENCRYPTION_KEYS = [new]  # the old key can go now
    assert keys.api_key_in_use() == KEY
    assert ResearchAccount.objects.get().token == "research-token-0123456789"


def test_every_encrypted_column_is_registered_for_key_rotation():
    # A column named *_encrypted that reencrypt_secrets did not know would be left on a
    # key about to be dropped, and unreadable after the rotation.
    from django.apps import apps

    from portal.encryption import registered_columns

    columns = {
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if field.name.endswith("_encrypted")
    }
    assert columns and columns == set(registered_columns())
