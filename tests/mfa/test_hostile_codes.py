"""Hostile input to the second factor: always a 4xx with a reason, nothing changed.

Runs on SQLite and, with TEST_POSTGRES=1, on PostgreSQL (NUL bytes are the classic
PostgreSQL 500)."""

import json

import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.mfa.models import AuthenticatorApp, Passkey, RecoveryCodes
from tests.mfa.conftest import enrol_app, password_step

BAD_CODES = ["12\x0034", "\x00" * 6, "1" * 5000, "abcdef", "12345", "１２３４５６", "' OR 1=1 --"]
BAD_RECOVERY = ["abcde\x00fghij", "a" * 5000, "abcde-fghi!", "0000000000", "äöüäöüäöüä"]


@pytest.fixture
def pending_bob(client, bob):
    client.force_login(bob)
    enrol_app(client)
    client.post(reverse("mfa-recovery-codes"))
    client.post(reverse("logout"))
    password_step(client, "bob@example.org")
    return client


@pytest.mark.parametrize("code", BAD_CODES)
def test_a_malformed_app_code_is_refused_with_a_reason(pending_bob, bob, code):
    response = pending_bob.post(reverse("mfa-verify"), {"method": "app", "code": code})
    assert response.status_code == 400
    assert '<p class="error">' in response.content.decode()
    # A malformed code is not a try: the throttle is not touched.
    assert AuthenticatorApp.objects.get(user=bob).throttling_failure_count == 0


@pytest.mark.parametrize("code", BAD_RECOVERY)
def test_a_malformed_recovery_code_is_refused_with_a_reason(pending_bob, bob, code):
    response = pending_bob.post(
        reverse("mfa-verify"), {"method": "recovery", "recovery_code": code}
    )
    assert response.status_code == 400
    assert '<p class="error">' in response.content.decode()
    assert RecoveryCodes.objects.get(user=bob).remaining == 10


@pytest.mark.parametrize("method", ["", "sms", "\x00", "x" * 3000])
def test_an_unknown_method_is_refused(pending_bob, method):
    response = pending_bob.post(reverse("mfa-verify"), {"method": method, "code": "123456"})
    assert response.status_code == 400
    assert "Choose how" in response.content.decode()


@pytest.mark.parametrize("code", BAD_CODES)
def test_adding_an_app_with_a_malformed_code_adds_nothing(client, bob, code):
    client.force_login(bob)
    client.get(reverse("mfa-add-app"))
    response = client.post(reverse("mfa-add-app"), {"name": "x\x00", "code": code})
    assert response.status_code == 400
    assert not AuthenticatorApp.objects.filter(user=bob, confirmed=True).exists()


@pytest.mark.parametrize("code", BAD_CODES)
def test_removing_with_a_malformed_code_removes_nothing(client, bob, code):
    client.force_login(bob)
    enrol_app(client)
    app = AuthenticatorApp.objects.get(user=bob, confirmed=True)
    response = client.post(
        reverse("mfa-remove", args=["app", app.pk]), {"code": code, "password": "a\x00b"}
    )
    assert response.status_code == 400
    assert AuthenticatorApp.objects.filter(pk=app.pk).exists()


BAD_BODIES = [
    b"",
    b"not json",
    b"\x00\x01\x02",
    b"[]",
    b'{"credential": "x"}',
    json.dumps({"credential": {"id": "\x00", "rawId": "\x00", "response": {}}}).encode(),
    json.dumps({"credential": {"id": "a" * 5000, "response": {"clientDataJSON": "!!"}}}).encode(),
    b'{"credential": {}}' + b" " * 70000,
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_malformed_passkey_registration_is_refused(client, bob, body):
    client.force_login(bob)
    client.post(reverse("mfa-passkey-options"))
    response = client.post(reverse("mfa-passkey-register"), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]
    assert not Passkey.objects.exists()


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_malformed_passkey_sign_in_is_refused(pending_bob, bob, body):
    Passkey.objects.create(
        user=bob, name="k", confirmed=True, credential_id="AAAA", public_key=b"\x01"
    )
    pending_bob.post(reverse("mfa-verify-passkey-options"))
    response = pending_bob.post(
        reverse("mfa-verify-passkey"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]
    assert pending_bob.get(reverse("mfa-security")).status_code == 302  # still not signed in


def test_a_passkey_answer_without_a_request_is_refused(client, bob):
    client.force_login(bob)
    response = client.post(
        reverse("mfa-passkey-register"), b'{"credential": {}}', content_type="application/json"
    )
    assert response.status_code == 400 and "No passkey request" in response.json()["error"]
    assert not AuditEvent.objects.filter(action="mfa_added").exists()
