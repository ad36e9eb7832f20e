"""The metrics and log settings, read at start-up as the portal reads them."""

import json

import pytest

from tests.subprocesses import clean_env, run_manage


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PORTAL_METRICS_TOKEN", "too-short"), ("DJANGO_LOG_FORMAT", "xml")],
)
def test_the_portal_refuses_a_malformed_setting(variable, value, tmp_path):
    result = run_manage(clean_env(tmp_path, **{variable: value}), "check")
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {variable}" in result.stderr


def test_json_logs_from_a_command_with_the_token_from_a_file(tmp_path):
    token_file = tmp_path / "metrics-token"
    token_file.write_text("file-token-0123456789abcdef\n")
    env = clean_env(tmp_path, DJANGO_LOG_FORMAT="json", PORTAL_METRICS_TOKEN_FILE=str(token_file))
    code = (
        "import logging; from django.conf import settings; "
        "assert settings.PORTAL_METRICS_TOKEN == 'file-token-0123456789abcdef'; "
        "logging.getLogger('portal.example').warning("
        "'token %s', settings.PORTAL_METRICS_TOKEN, extra={'event': 'demo'})"
    )
    result = run_manage(env, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [line] = [line for line in lines if line["logger"] == "portal.example"]
    assert line["message"] == "token ***" and line["event"] == "demo"
    assert line["level"] == "WARNING" and "request_id" in line
