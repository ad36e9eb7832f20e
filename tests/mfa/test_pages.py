"""Security's pages by tenant and role: each person sees and removes only their own factors."""

import pytest
from django.urls import reverse

from portal.mfa.models import AuthenticatorApp, Passkey
from tests.mfa.conftest import enrol_app

PAGES = ["mfa-security", "mfa-add-app", "mfa-add-passkey", "mfa-recovery-codes"]


def make_passkey(user, name="Laptop"):
    return Passkey.objects.create(
        user=user,
        name=name,
        confirmed=True,
        credential_id=f"cred-{user.pk}-{name}",
        public_key=b"\x01",
    )


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("name", ["mfa-passkey-options", "mfa-passkey-register"])
def test_the_passkey_endpoints_need_a_signed_in_user(client, db, name):
    response = client.post(reverse(name), "{}", content_type="application/json")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("who", ["alice", "bob", "charlie"])
def test_each_member_sees_only_their_own_factors(client, trio, who):
    alice, bob, charlie = trio
    users = {"alice": alice, "bob": bob, "charlie": charlie}
    for name, user in users.items():
        client.force_login(user)
        enrol_app(client, name=f"{name}-phone")
        make_passkey(user, f"{name}-key")
    me = users[who]
    client.force_login(me)
    for name in PAGES:
        assert client.get(reverse(name)).status_code in (200, 302)
    page = client.get(reverse("mfa-security")).content.decode()
    for name in users:
        assert (f"{name}-phone" in page) is (name == who)
        assert (f"{name}-key" in page) is (name == who)


@pytest.mark.parametrize("kind", ["app", "passkey"])
@pytest.mark.parametrize(
    ("actor", "owner"), [("bob", "alice"), ("charlie", "alice"), ("alice", "bob")]
)
def test_nobody_removes_anothers_factor(client, trio, kind, actor, owner):
    users = dict(zip(["alice", "bob", "charlie"], trio, strict=True))
    client.force_login(users[owner])
    enrol_app(client)
    passkey = make_passkey(users[owner])
    app = AuthenticatorApp.objects.get(user=users[owner], confirmed=True)
    target = app if kind == "app" else passkey
    client.force_login(users[actor])
    url = reverse("mfa-remove", args=[kind, target.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"password": "correct-horse-battery"}).status_code == 404
    assert type(target).objects.filter(pk=target.pk).exists()


def test_an_unknown_kind_of_factor_is_a_404(client, bob):
    client.force_login(bob)
    assert client.get("/account/security/other/1/remove/").status_code == 404


def test_a_passkey_is_removed_with_the_password(client, bob):
    client.force_login(bob)
    passkey = make_passkey(bob)
    url = reverse("mfa-remove", args=["passkey", passkey.pk])
    assert client.post(url, {"password": "correct-horse-battery"}).status_code == 302
    assert not Passkey.objects.filter(pk=passkey.pk).exists()


def test_the_second_step_without_a_password_first_goes_to_sign_in(client, db):
    response = client.get(reverse("mfa-verify"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    response = client.post(reverse("mfa-verify-passkey-options"))
    assert response.status_code == 401


def test_recovery_codes_need_a_factor_first(client, bob):
    client.force_login(bob)
    response = client.post(reverse("mfa-recovery-codes"))
    assert response.status_code == 302 and response["Location"] == reverse("mfa-security")


def test_a_superuser_sees_and_removes_a_lost_factor_in_admin_never_its_key(client, bob):
    from django.contrib.auth import get_user_model

    from portal.exams.models import AuditEvent

    client.force_login(bob)
    secret = enrol_app(client)
    app = AuthenticatorApp.objects.get(user=bob, confirmed=True)
    root = get_user_model().objects.create_superuser(
        email="root@example.org", password="correct-horse-battery"
    )
    client.force_login(root)
    listing = client.get("/admin/mfa/authenticatorapp/")
    assert listing.status_code == 200 and "bob@example.org" in listing.content.decode()
    page = client.get(f"/admin/mfa/authenticatorapp/{app.pk}/change/").content.decode()
    assert secret not in page and app.bin_key.hex() not in page
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    response = client.post(f"/admin/mfa/authenticatorapp/{app.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not AuthenticatorApp.objects.filter(pk=app.pk).exists()
    assert AuditEvent.objects.filter(user=bob, action="mfa_removed").exists()
