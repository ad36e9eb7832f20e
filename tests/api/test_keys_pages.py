"""The API keys page of the institution admin, the Django admin, ``manage.py apikey``,
and the rule that a key's secret is shown once and never logged."""

import datetime
import io
import logging

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from portal.api import keys
from portal.api.models import ApiKey
from portal.exams.models import AuditEvent
from portal.log_masking import MaskSecretsFilter, mask
from portal.tenants.models import Membership
from tests.api.keyring import bearer, key_for


def users(trio):
    return dict(zip(["alice", "bob", "charlie"], trio, strict=True))


def member(user, slug):
    return Membership.objects.get(user=user, institution__slug=slug)


def make_key_on_the_page(client, membership, **fields):
    data = {"name": "EHR bridge", "scope": "read", "member": membership.pk, **fields}
    return client.post(reverse("api-keys"), data)


def new_key_text(response) -> str:
    key = response.context["created"]
    text = response.context["secret"]
    assert text.startswith(f"cpk_{key.prefix}_")
    return text


# viewer (in their default institution) -> whether the page is theirs
@pytest.mark.parametrize(("viewer", "status"), [("alice", 200), ("bob", 404), ("charlie", 200)])
def test_only_the_institutions_admins_have_the_page(client, trio, viewer, status):
    client.force_login(users(trio)[viewer])
    assert client.get(reverse("api-keys")).status_code == status


def test_a_clinician_there_does_not_have_it(client, trio):
    client.force_login(users(trio)["alice"])
    client.post(reverse("switch-institution"), {"institution": "southside"})
    assert client.get(reverse("api-keys")).status_code == 404


def test_the_list_holds_only_the_current_institutions_keys(client, trio):
    alice, bob, charlie = trio
    key_for(bob, "northside", name="North key")
    key_for(charlie, "southside", name="South key")
    client.force_login(alice)
    page = client.get(reverse("api-keys")).content.decode()
    assert "North key" in page and "South key" not in page
    assert 'href="/institution/api-keys/"' in page  # the nav links to it


def test_an_admin_makes_a_key_shown_once(client, trio):
    alice, bob, _charlie = trio
    client.force_login(alice)
    expires = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    response = make_key_on_the_page(
        client, member(bob, "northside"), scope="write", expires=expires
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    text = new_key_text(response)
    page = response.content.decode()
    assert f'value="{text}"' in page and "readonly" in page  # one field, to copy
    key = ApiKey.objects.get()
    assert (key.name, key.scope, key.user, key.created_by) == ("EHR bridge", "write", bob, alice)
    assert key.expires_at.date() == timezone.localdate() + datetime.timedelta(days=31)
    event = AuditEvent.objects.get(action="create_api_key")
    assert (event.user, event.institution.slug) == (alice, "northside")
    assert event.detail["api_key"] == key.shown_prefix
    # It works, and it is never shown again.
    assert client.get(reverse("api-exam-list"), headers=bearer(text)).status_code == 200
    again = client.get(reverse("api-keys")).content.decode()
    assert key.shown_prefix in again and text not in again
    assert text.split("_")[-1] not in again


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"scope": "admin"}, "scope"),
        ({"expires": "2001-01-01"}, "expires"),
        ({"expires": "not a date"}, "expires"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_a_bad_form_is_a_400_with_the_reason(client, trio, fields, field):
    client.force_login(users(trio)["alice"])
    response = make_key_on_the_page(client, member(users(trio)["bob"], "northside"), **fields)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not ApiKey.objects.exists()


def test_a_key_cannot_act_as_another_institutions_member(client, trio):
    alice, _bob, charlie = trio
    client.force_login(alice)
    for membership in [member(charlie, "southside"), member(alice, "southside")]:
        response = make_key_on_the_page(client, membership)
        assert response.status_code == 400 and "member" in response.context["form"].errors
    response = client.post(reverse("api-keys"), {"name": "x", "scope": "read", "member": "\x00"})
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_an_admin_revokes_a_key_of_their_institution_only(client, trio):
    alice, bob, charlie = trio
    north = ApiKey.objects.get(prefix=keys.parse(key_for(bob, "northside"))[0])
    south_text = key_for(charlie, "southside")
    south = ApiKey.objects.get(prefix=keys.parse(south_text)[0])
    client.force_login(alice)
    assert client.get(reverse("api-key-revoke", args=[north.pk])).status_code == 405
    assert client.post(reverse("api-key-revoke", args=[south.pk])).status_code == 404
    response = client.post(reverse("api-key-revoke", args=[north.pk]))
    assert response.status_code == 302
    north.refresh_from_db()
    south.refresh_from_db()
    assert north.revoked_at is not None and north.revoked_by == alice
    assert south.revoked_at is None
    assert AuditEvent.objects.filter(action="revoke_api_key").count() == 1
    page = client.get(reverse("api-keys")).content.decode()
    assert "Revoked" in page
    client.force_login(bob)  # not an admin
    assert client.post(reverse("api-key-revoke", args=[north.pk])).status_code == 404


def test_the_page_passes_the_strict_csp(client, trio):
    client.force_login(users(trio)["alice"])
    response = make_key_on_the_page(client, member(users(trio)["bob"], "northside"))
    page = response.content.decode()
    assert "Content-Security-Policy" in response.headers
    assert "<style" not in page and " style=" not in page
    for tag in page.split("<script")[1:]:
        assert tag.split(">", 1)[0].strip().startswith("src="), tag[:80]


def test_a_key_never_reaches_the_logs(client, trio, caplog):
    alice, bob, _charlie = trio
    handler_filter = MaskSecretsFilter()
    with caplog.at_level(logging.DEBUG):
        client.force_login(alice)
        text = new_key_text(make_key_on_the_page(client, member(bob, "northside")))
        client.logout()
        url = reverse("api-exam-list")
        assert client.get(url + f"?key={text}", headers=bearer(text)).status_code == 200
        prefix, secret = keys.parse(text)
        tampered = f"cpk_{prefix}_{'a' * len(secret)}"
        assert client.get(url, headers=bearer(tampered)).status_code == 401
        assert client.get(url, HTTP_AUTHORIZATION=f"Token {text}x").status_code == 401
        logging.getLogger("portal.test").warning("a client sent %s", text)
    assert caplog.records
    for record in caplog.records:
        handler_filter.filter(record)
        line = record.getMessage()
        assert secret not in line, line
    assert f"cpk_{prefix}_***" in caplog.records[-1].getMessage()


def test_masking_keeps_the_prefix_and_hides_the_secret():
    text = "GET /api/v1/exams/?k=cpk_abcdefgh_" + "q" * 32 + " Bearer CPK_ABCDEFGH_" + "Z" * 40
    assert mask(text) == "GET /api/v1/exams/?k=cpk_abcdefgh_*** Bearer CPK_ABCDEFGH_***"
    assert mask("cpk_short") == "cpk_short"


# The Django admin: a read-only list, and a revoke action.


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(email="root@example.org", password="x")


def test_the_django_admin_lists_keys_read_only_and_revokes(client, superuser, trio):
    text = key_for(users(trio)["bob"], "northside", name="EHR bridge")
    key = ApiKey.objects.get()
    client.force_login(superuser)
    changelist = reverse("admin:api_apikey_changelist")
    page = client.get(changelist).content.decode()
    assert "EHR bridge" in page and key.shown_prefix in page
    assert key.secret_hash not in page and text not in page
    assert client.get(reverse("admin:api_apikey_add")).status_code == 403
    detail = client.get(reverse("admin:api_apikey_change", args=[key.pk])).content.decode()
    assert key.secret_hash not in detail
    response = client.post(changelist, {"action": "revoke", "_selected_action": [key.pk]})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == superuser
    event = AuditEvent.objects.get(action="revoke_api_key")
    assert event.detail["via"] == "admin" and event.institution == key.institution


# manage.py apikey


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command("apikey", *args, stdout=out)
    return out.getvalue().splitlines()


def test_the_command_makes_lists_and_revokes_keys(client, trio):
    lines = run("create", "northside", "BOB@example.org", "--name", "Nightly export",
                "--scope", "read", "--expires", "2099-12-31")  # fmt: skip
    text = lines[-1]
    assert keys.parse(text) and text not in lines[0]
    key = ApiKey.objects.get()
    assert (key.user, key.scope, key.created_by) == (users(trio)["bob"], "read", None)
    assert key.expires_at.year == 2100
    assert AuditEvent.objects.get().detail["via"] == "command"
    assert client.get(reverse("api-exam-list"), headers=bearer(text)).status_code == 200

    listing = "\n".join(run("list", "northside"))
    assert key.shown_prefix in listing and "Nightly export" in listing
    assert text not in listing and keys.parse(text)[1] not in listing
    assert run("list", "southside") == ["No keys in southside."]

    assert "Revoked" in run("revoke", key.shown_prefix)[0]
    assert "already revoked" in run("revoke", key.prefix)[0]
    assert client.get(reverse("api-exam-list"), headers=bearer(text)).status_code == 401
    assert "revoked" in "\n".join(run("list", "northside"))


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["create", "nowhere", "bob@example.org", "--name", "x", "--scope", "read"], "slug"),
        (["create", "southside", "bob@example.org", "--name", "x", "--scope", "read"], "member"),
        (["create", "northside", "bob@example.org", "--name", " ", "--scope", "read"], "name"),
        (
            [
                "create",
                "northside",
                "bob@example.org",
                "--name",
                "x",
                "--scope",
                "read",
                "--expires",
                "31/12/2099",
            ],
            "YYYY-MM-DD",
        ),  # fmt: skip
        (
            [
                "create",
                "northside",
                "bob@example.org",
                "--name",
                "x",
                "--scope",
                "read",
                "--expires",
                "2001-01-01",
            ],
            "future",
        ),  # fmt: skip
        (["list", "nowhere"], "slug"),
        (["revoke", "cpk_zzzzzzzz"], "prefix"),
    ],
)
def test_the_command_refuses_with_a_reason(trio, args, reason):
    with pytest.raises(CommandError, match=reason):
        run(*args)
    assert not ApiKey.objects.exists()


def test_the_command_refuses_an_unknown_scope(trio):
    with pytest.raises(CommandError):
        run("create", "northside", "bob@example.org", "--name", "x", "--scope", "admin")
