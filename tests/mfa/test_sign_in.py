"""Second factors at sign-in: an authenticator app, recovery codes, the policy, throttling."""

import pyotp
import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.mfa import services
from portal.mfa.models import AuthenticatorApp, RecoveryCodes, TOTPKey
from tests.mfa.conftest import enrol_app, next_code, password_step


def signed_in(client):
    return client.get(reverse("mfa-security")).status_code == 200


def test_an_app_added_on_security_is_asked_for_at_the_next_sign_in(client, bob):
    client.force_login(bob)
    secret = enrol_app(client)
    assert AuditEvent.objects.filter(user=bob, action="mfa_added").exists()
    client.post(reverse("logout"))

    response = password_step(client, "bob@example.org", next_url="/account/profile/")
    assert response.status_code == 302 and response["Location"] == reverse("mfa-verify")
    # Not signed in yet: the password alone opens nothing.
    assert "/accounts/login/" in client.get(reverse("profile"))["Location"]
    assert not AuditEvent.objects.filter(user=bob, action="login").exists()

    response = client.post(reverse("mfa-verify"), {"method": "app", "code": next_code(secret)})
    assert response.status_code == 302 and response["Location"] == "/account/profile/"
    assert client.get(reverse("profile")).status_code == 200
    assert client.get(reverse("mfa-security")).context["verified"] is True
    assert AuditEvent.objects.filter(user=bob, action="mfa_verified").exists()
    assert AuditEvent.objects.filter(user=bob, action="login").exists()


def test_the_key_is_encrypted_at_rest_and_django_otps_column_is_a_decoy(client, bob):
    client.force_login(bob)
    secret = enrol_app(client)
    app = AuthenticatorApp.objects.get(user=bob)
    stored = TOTPKey.objects.get(device=app).key_encrypted
    assert pyotp.utils.strings_equal(secret, secret)
    hex_key = app.bin_key.hex()
    assert hex_key not in stored and secret.lower() not in stored.lower()
    assert app.key != hex_key  # django-otp's own column never holds the key


def test_a_wrong_code_is_refused_audited_and_throttled(client, bob):
    client.force_login(bob)
    secret = enrol_app(client)
    client.post(reverse("logout"))
    password_step(client, "bob@example.org")

    wrong = "000000" if next_code(secret) != "000000" else "111111"
    response = client.post(reverse("mfa-verify"), {"method": "app", "code": wrong})
    assert response.status_code == 400
    assert "not right" in response.content.decode()
    # At once again, even with the right code: django-otp's throttle (1 s, then 2, 4 …).
    response = client.post(reverse("mfa-verify"), {"method": "app", "code": next_code(secret)})
    assert response.status_code == 429
    assert "Too many wrong codes" in response.content.decode()
    assert AuditEvent.objects.filter(user=bob, action="mfa_failed").count() == 2
    assert not signed_in(client)


def test_a_recovery_code_signs_in_once(client, bob):
    client.force_login(bob)
    enrol_app(client)
    page = client.post(reverse("mfa-recovery-codes"))
    codes = page.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    # Kept as digests only.
    stored = set(RecoveryCodes.objects.get(user=bob).token_set.values_list("token", flat=True))
    assert not stored & {c.replace("-", "") for c in codes}
    client.post(reverse("logout"))

    password_step(client, "bob@example.org")
    response = client.post(reverse("mfa-verify"), {"method": "recovery", "recovery_code": codes[0]})
    assert response.status_code == 302
    assert signed_in(client)
    assert AuditEvent.objects.filter(user=bob, action="mfa_recovery_used").exists()
    client.post(reverse("logout"))

    password_step(client, "bob@example.org")
    response = client.post(reverse("mfa-verify"), {"method": "recovery", "recovery_code": codes[0]})
    assert response.status_code == 400
    assert not signed_in(client)


def test_new_recovery_codes_make_the_old_ones_useless(client, bob):
    client.force_login(bob)
    enrol_app(client)
    old = client.post(reverse("mfa-recovery-codes")).context["codes"]
    new = client.post(reverse("mfa-recovery-codes")).context["codes"]
    client.post(reverse("logout"))
    password_step(client, "bob@example.org")
    assert (
        client.post(
            reverse("mfa-verify"), {"method": "recovery", "recovery_code": old[1]}
        ).status_code
        == 400
    )
    # (The throttle's first second passes before the next try.)
    RecoveryCodes.objects.filter(user=bob).update(throttling_failure_count=0)
    response = client.post(
        reverse("mfa-verify"), {"method": "recovery", "recovery_code": new[1].upper()}
    )
    assert response.status_code == 302


def test_the_pending_sign_in_expires(client, bob):
    client.force_login(bob)
    secret = enrol_app(client)
    client.post(reverse("logout"))
    password_step(client, "bob@example.org")
    session = client.session
    session[services.PENDING]["at"] -= services.PENDING_SECONDS + 1
    session.save()
    response = client.post(reverse("mfa-verify"), {"method": "app", "code": next_code(secret)})
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert not signed_in(client)


def test_an_account_without_a_factor_signs_in_with_the_password_alone(client, bob):
    response = password_step(client, "bob@example.org")
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert signed_in(client)


def test_a_required_second_factor_sends_bob_to_enrol(client, bob, northside):
    northside.require_second_factor = True
    northside.save()
    password_step(client, "bob@example.org")
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("mfa-security")
    assert client.get(reverse("profile"))["Location"] == reverse("mfa-security")
    assert client.get("/api/v1/exams/").status_code == 403
    page = client.get(reverse("mfa-security"))
    assert page.status_code == 200 and "must have a second factor" in page.content.decode()
    enrol_app(client)
    assert client.get(reverse("home")).status_code == 200


def test_admins_must_always_enrol(client, alice, admins_must_enrol):
    password_step(client, "alice@example.org")
    assert client.get(reverse("home"))["Location"] == reverse("mfa-security")


def test_a_reviewer_of_a_relaxed_institution_need_not(client, bob, admins_must_enrol):
    password_step(client, "bob@example.org")
    assert client.get(reverse("home")).status_code == 200


def test_superusers_must_always_enrol(client, db, admins_must_enrol):
    from django.contrib.auth import get_user_model

    from tests.conftest import PASSWORD

    get_user_model().objects.create_superuser(email="root@example.org", password=PASSWORD)
    password_step(client, "root@example.org")
    assert client.get(reverse("home"))["Location"] == reverse("mfa-security")


def test_force_login_sessions_are_not_held_by_the_policy(client, alice, admins_must_enrol):
    """Tests (and any session not from the password form) are left alone."""
    client.force_login(alice)
    assert client.get(reverse("home")).status_code == 200


def test_single_sign_on_sessions_count_as_verified(client, alice, admins_must_enrol):
    password_step(client, "alice@example.org")
    session = client.session
    session["portal_sso"] = True
    session.save()
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize(
    ("session", "sso"),
    [
        ({"_auth_user_backend": "portal.sso.backends.SsoBackend"}, True),
        ({"_auth_user_backend": "django.contrib.auth.backends.ModelBackend"}, False),
        ({"portal_sso": True}, True),
        ({}, False),
    ],
)
def test_a_single_sign_on_session_is_known_by_its_backend_or_flag(rf, session, sso):
    request = rf.get("/")
    request.session = session
    assert services.is_sso_session(request) is sso


def test_a_factor_added_in_another_session_is_asked_for(client, alice, admins_must_enrol):
    from django.test import Client

    password_step(client, "alice@example.org")
    other = Client()
    other.force_login(alice)
    secret = enrol_app(other)
    response = client.get(reverse("home"))
    assert response["Location"] == reverse("mfa-verify")
    response = client.post(reverse("mfa-verify"), {"method": "app", "code": next_code(secret)})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_removing_a_factor_needs_the_password_and_is_audited(client, bob):
    client.force_login(bob)
    enrol_app(client)
    client.post(reverse("mfa-recovery-codes"))
    app = AuthenticatorApp.objects.get(user=bob, confirmed=True)
    url = reverse("mfa-remove", args=["app", app.pk])
    response = client.post(url, {"password": "wrong"})
    assert response.status_code == 400 and "not right" in response.content.decode()
    assert AuthenticatorApp.objects.filter(pk=app.pk).exists()
    response = client.post(url, {"password": "correct-horse-battery"})
    assert response.status_code == 302
    assert not AuthenticatorApp.objects.filter(pk=app.pk).exists()
    # The last factor gone, its recovery codes go with it.
    assert not RecoveryCodes.objects.filter(user=bob).exists()
    assert AuditEvent.objects.filter(user=bob, action="mfa_removed").exists()


def test_an_app_key_is_rotated_with_reencrypt_secrets(client, bob, settings):
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEYS = [old]
    client.force_login(bob)
    secret = enrol_app(client)
    settings.PORTAL_ENCRYPTION_KEYS = [new, old]
    call_command("reencrypt_secrets", stdout=StringIO())
    settings.PORTAL_ENCRYPTION_KEYS = [new]
    client.post(reverse("logout"))
    password_step(client, "bob@example.org")
    response = client.post(reverse("mfa-verify"), {"method": "app", "code": next_code(secret)})
    assert response.status_code == 302 and signed_in(client)


def test_django_admins_login_asks_for_the_factor_too(client, db):
    from django.contrib.auth import get_user_model

    from tests.conftest import PASSWORD

    root = get_user_model().objects.create_superuser(email="root@example.org", password=PASSWORD)
    client.force_login(root)
    secret = enrol_app(client)
    client.post(reverse("logout"))
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "root@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/admin/")["Location"] == reverse("mfa-verify")
    response = client.post(reverse("mfa-verify"), {"method": "app", "code": next_code(secret)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_admin_signed_in_through_django_admin_must_enrol(client, db, admins_must_enrol):
    from django.contrib.auth import get_user_model

    from tests.conftest import PASSWORD

    get_user_model().objects.create_superuser(email="root@example.org", password=PASSWORD)
    client.post("/admin/login/", {"username": "root@example.org", "password": PASSWORD})
    assert client.get("/admin/")["Location"] == reverse("mfa-security")
