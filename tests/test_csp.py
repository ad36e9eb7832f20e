"""The Content-Security-Policy on every page, and the endpoint browsers report refusals to."""

import json
import logging
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from portal import csp

ROOT = Path(__file__).resolve().parents[1]

REPORT = {
    "csp-report": {
        "document-uri": "http://testserver/clarius/connect/secret-token-123/?next=/x",
        "referrer": "",
        "violated-directive": "style-src-attr",
        "effective-directive": "style-src-attr",
        "original-policy": "default-src 'self'",
        "disposition": "enforce",
        "blocked-uri": "inline",
        "line-number": 12,
        "source-file": "http://testserver/static/js/portal.js",
        "status-code": 200,
        "script-sample": "color: red",
    }
}


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = [part.strip().split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


def nonce(response) -> str:
    values = [v for v in policy(response)["script-src"] if v.startswith("'nonce-")]
    assert len(values) == 1, response["Content-Security-Policy"]
    return values[0]


def assert_strict(response):
    assert response["Content-Type"].startswith("text/html")
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["report-uri"] == ["/csp-report/"]
    assert directives["img-src"] == directives["media-src"] == ["'self'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["style-src"] == ["'self'", nonce(response)]
    assert directives["script-src"] == ["'self'", nonce(response)]
    assert not any("unsafe" in v or "*" in v for values in directives.values() for v in values)
    assert response["X-Frame-Options"] == "DENY"


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(email="root@example.org", password="x")


def test_it_puts_the_policy_with_a_fresh_nonce_on_every_page_of_a_member(client, bob):
    client.force_login(bob)
    for url in ("/", "/worklist/", "/clarius/links/", "/accounts/password_change/"):
        first, second = client.get(url), client.get(url)
        assert first.status_code == 200, url
        assert_strict(first)
        assert_strict(second)
        assert nonce(first) != nonce(second), url


def test_it_puts_the_policy_on_the_login_reset_and_error_pages(client, db):
    pages = ["/accounts/login/", "/accounts/password_reset/", "/no-such-page/"]
    for url in pages:
        assert_strict(client.get(url))
    assert client.get("/no-such-page/").status_code == 404


def test_it_puts_the_policy_on_the_csrf_failure_page_which_has_no_inline_style(db):
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x"})
    assert response.status_code == 403
    assert_strict(response)
    assert "<style" not in response.content.decode()


def test_it_puts_the_policy_on_the_admin_pages(client, superuser, northside):
    client.force_login(superuser)
    for url in (
        reverse("admin:index"),
        reverse("admin:tenants_institution_changelist"),
        reverse("admin:tenants_institution_change", args=[northside.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict(response)


def post_report(client, body, content_type="application/csp-report"):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return client.post(reverse("csp-report"), body, content_type=content_type)


def test_the_report_endpoint_logs_a_violation_masked_and_counts_it(client, db, caplog):
    with caplog.at_level(logging.WARNING, logger="portal.csp"):
        assert post_report(client, REPORT).status_code == 204
        assert post_report(client, REPORT).status_code == 204
    messages = [r.getMessage() for r in caplog.records if r.name == "portal.csp"]
    assert len(messages) == 2
    assert "style-src-attr" in messages[0] and "'color: red'" in messages[0]
    assert "/clarius/connect/***" in messages[0]
    assert "secret-token-123" not in messages[0] and "next=" not in messages[0]
    assert messages[1].startswith("CSP violation #2 ")
    assert cache.get("csp-violations:style-src-attr") == 2


def test_the_report_endpoint_takes_a_reporting_api_batch(client, db, caplog):
    batch = [
        {"type": "csp-violation", "body": {"effectiveDirective": "img-src", "blockedURL": u}}
        for u in ("https://evil.example/a.png", "https://evil.example/b.png")
    ]
    with caplog.at_level(logging.WARNING, logger="portal.csp"):
        assert post_report(client, batch, "application/reports+json").status_code == 204
    assert cache.get("csp-violations:img-src") == 2
    assert "https://evil.example/b.png" in caplog.text


def test_the_report_endpoint_stops_logging_a_flood_but_keeps_counting(
    client, db, caplog, monkeypatch
):
    monkeypatch.setattr(csp, "LOG_LIMIT_PER_HOUR", 3)
    with caplog.at_level(logging.WARNING, logger="portal.csp"):
        for _ in range(5):
            assert post_report(client, REPORT).status_code == 204
    logged = [r for r in caplog.records if r.name == "portal.csp"]
    assert len(logged) == 3
    assert "counted, not logged" in logged[-1].getMessage()
    assert cache.get("csp-violations:style-src-attr") == 5


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b" ", "application/csp-report", 400),
        (b"not json", "application/csp-report", 400),
        (b"\xff\xfe\x00garbage", "application/csp-report", 400),
        (b"{}", "application/csp-report", 400),
        (b"[]", "application/reports+json", 400),
        (b'{"csp-report": 1}', "application/csp-report", 400),
        (b'[{"type": "csp-violation", "body": "x"}]', "application/reports+json", 400),
        (b"[" * 5000 + b"]" * 5000, "application/csp-report", 400),
        (b'{"csp-report": {"line-number": ' + b"9" * 5000 + b"}}", "application/json", 400),
        (json.dumps(REPORT).encode(), "text/plain", 415),
        (b'{"csp-report": {"x": "' + b"a" * 20_000 + b'"}}', "application/csp-report", 413),
    ],
)
def test_the_report_endpoint_answers_garbage_with_a_4xx(client, db, body, content_type, status):
    response = post_report(client, body, content_type)
    assert response.status_code == status
    assert cache.get("csp-violations:style-src-attr") is None


def test_the_report_endpoint_takes_only_posts_and_needs_no_csrf_token(db):
    browser = Client(enforce_csrf_checks=True)
    assert browser.get(reverse("csp-report")).status_code == 405
    assert post_report(browser, REPORT).status_code == 204


def test_the_report_endpoint_survives_odd_values_in_a_report(client, db, caplog):
    odd = {
        "csp-report": {
            "effective-directive": "script-src-elem \x00\u202e",
            "blocked-uri": "http://[::1",
            "document-uri": ["not", "a", "string"],
            "line-number": 1e308,
            "script-sample": "\ud800" + "x" * 1000,
        }
    }
    with caplog.at_level(logging.WARNING, logger="portal.csp"):
        assert post_report(client, odd).status_code == 204
    message = caplog.records[-1].getMessage()
    assert "\x00" not in message and "\u202e" not in message and len(message) < 2000


def test_the_browsable_api_styles_carry_the_page_nonce(client, bob):
    client.force_login(bob)
    response = client.get("/api/v1/exams/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert_strict(response)
    html = response.content.decode()
    assert f'<style nonce="{nonce(response)[7:-1]}">' in html
    assert "<style>" not in html


# What the policy refuses, written into a template: a <script> with a body and no nonce
# (json_script's application/json is data, not script), a <style> without a nonce, a
# style attribute, an on…= handler, a javascript: URL.
TEMPLATE_REFUSALS = {
    "inline script": re.compile(
        r"<script(?![^>]*\b(?:src|nonce)=)(?![^>]*application/json)[^>]*>", re.I
    ),
    "inline style element": re.compile(r"<style(?![^>]*\bnonce=)[^>]*>", re.I),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I),
    "event handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}
COMMENTS = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}|<!--.*?-->", re.S)
# What the policy refuses when a script does it: style attributes and markup with them.
SCRIPT_REFUSALS = {
    "style attribute": re.compile(r"setAttribute\(\s*[\"']style[\"']"),
    "markup with styles or handlers": re.compile(
        r"(?:innerHTML\s*\+?=|insertAdjacentHTML\(|document\.write)[^;]*(?:style=|\son[a-z]+=)"
    ),
    "code from strings": re.compile(r"\beval\(|new Function\(|set(?:Timeout|Interval)\(\s*[\"'`]"),
}


def project_files(folder, pattern):
    """Files under the project's `folder` directories: the top one and the apps' own."""
    roots = [ROOT / folder, *(ROOT / "portal").glob(f"*/{folder}")]
    roots += (ROOT / "integrations").glob(f"*/{folder}")
    return sorted(path for root in roots for path in root.rglob(pattern))


def test_no_template_holds_what_the_policy_refuses():
    found = []
    for path in project_files("templates", "*.html"):
        text = COMMENTS.sub("", path.read_text())
        for what, pattern in TEMPLATE_REFUSALS.items():
            found += [f"{path.relative_to(ROOT)}: {what}: {m[0]}" for m in pattern.finditer(text)]
    assert not found, "\n".join(found)


def test_no_script_builds_styles_or_code_from_strings():
    found = []
    for path in project_files("static", "*.js"):
        text = path.read_text()
        for what, pattern in SCRIPT_REFUSALS.items():
            found += [f"{path.relative_to(ROOT)}: {what}: {m[0]}" for m in pattern.finditer(text)]
    assert not found, "\n".join(found)
