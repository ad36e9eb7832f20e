"""PORTAL_STORAGE_URL: parsed and checked at start-up, credentials kept out of it."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import parse_storage_url
from tests.subprocesses import clean_env, run_manage


def test_a_self_hosted_bucket_url_becomes_the_s3_options():
    options = parse_storage_url(
        "PORTAL_STORAGE_URL",
        "s3://portal-media/site-a?endpoint=http://127.0.0.1:8333&region=eu-west-1&addressing=path",
    )
    assert options == {
        "bucket_name": "portal-media",
        "location": "site-a",
        "signature_version": "s3v4",
        "endpoint_url": "http://127.0.0.1:8333",
        "region_name": "eu-west-1",
        "addressing_style": "path",
    }


def test_aws_itself_needs_only_the_bucket():
    options = parse_storage_url("PORTAL_STORAGE_URL", "s3://portal-media")
    assert "endpoint_url" not in options
    assert (options["region_name"], options["addressing_style"]) == ("us-east-1", "virtual")


@pytest.mark.parametrize(
    "value, words",
    [
        ("https://portal-media", "expected s3://"),
        ("s3://key:secret@portal-media", "credentials do not belong"),
        ("s3://Portal_Media", "not a valid bucket name"),
        ("s3://portal-media?endpoint=ftp://host", "http"),
        ("s3://portal-media?endpoint=http://host/path", "origin"),
        ("s3://portal-media?addressing=sideways", "addressing must be"),
        ("s3://portal-media?bucket=other", "unknown option"),
        ("s3://portal-media/../other", "'..'"),
    ],
)
def test_a_malformed_url_is_refused_with_a_clear_message(value, words):
    with pytest.raises(ImproperlyConfigured, match="PORTAL_STORAGE_URL") as caught:
        parse_storage_url("PORTAL_STORAGE_URL", value)
    assert words in str(caught.value)
    assert "secret" not in str(caught.value).replace("SECRET", "")


def test_the_portal_will_not_start_on_a_bad_storage_setting(tmp_path):
    env = clean_env(tmp_path, PORTAL_STORAGE_URL="s3://portal-media?endpoint=nope")
    result = run_manage(env, "check")
    assert result.returncode != 0 and "PORTAL_STORAGE_URL" in result.stderr
    env = clean_env(
        tmp_path,
        PORTAL_STORAGE_URL="s3://portal-media?endpoint=http://127.0.0.1:1",
        PORTAL_STORAGE_ACCESS_KEY_ID="only-the-key",
    )
    result = run_manage(env, "check")
    assert result.returncode != 0 and "set both" in result.stderr


def test_credentials_come_from_files_and_are_never_shown(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("very-secret-value\n")
    env = clean_env(
        tmp_path,
        PORTAL_STORAGE_URL="s3://portal-media?endpoint=http://127.0.0.1:1",
        PORTAL_STORAGE_ACCESS_KEY_ID="key-id",
        PORTAL_STORAGE_SECRET_ACCESS_KEY_FILE=str(secret),
    )
    result = run_manage(
        env,
        "shell",
        "-c",
        "from django.conf import settings; o = settings.STORAGES['default']['OPTIONS'];"
        "print(settings.STORAGES['default']['BACKEND'], o['secret_key'] == 'very-secret-value')",
    )
    assert result.returncode == 0, result.stderr
    assert "storages.backends.s3.S3Storage True" in result.stdout
    assert "very-secret-value" not in result.stdout + result.stderr
