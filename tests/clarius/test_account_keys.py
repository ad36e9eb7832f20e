"""Service API keys: the key in use, rotation (and its failures), revocation, the pages."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from integrations.clarius import clients
from integrations.clarius.account import keys, rotation
from integrations.clarius.models import ServiceApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(clarius_settings, clarius_sandbox):
    """The portal on the sandbox's onboarding key, seeded into the store."""
    assert keys.api_key_in_use() == clarius_sandbox.api_key
    return clarius_sandbox


@pytest.fixture
def root_client(client):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    return client


def prefix_of(key):
    return key.split(".")[0]


def keys_at_clarius(sandbox):
    return set(sandbox.state.api_keys)


def database_text():
    """Every row of every table, as text: a secret must appear nowhere in it."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the database
            chunks.append(repr(cursor.fetchall()))
    return "\n".join(chunks)


def fail_next(sandbox, method, path="services/api-keys/"):
    # Four failures: the first try and the client's three retries, without waiting.
    sandbox.inject(path, method, status=503, count=4, retry_after=0)


def test_the_environment_key_seeds_the_store_once(account):
    stored = keys.key_in_use()
    assert stored.prefix == prefix_of(account.api_key)
    assert stored.source == "environment"
    keys.api_key_in_use()
    assert ServiceApiKey.objects.count() == 1


def test_it_rotates_the_key_and_revokes_the_old_one(account, sandbox_api):
    old = prefix_of(account.api_key)
    report = rotation.rotate("next key")
    assert report.ok, report.steps
    new = keys.key_in_use()
    assert new.prefix == report.new_prefix != old
    assert keys_at_clarius(account) == {new.prefix}
    assert ServiceApiKey.objects.get(prefix=old).state == "revoked"
    assert sandbox_api.get("services/settings/").status_code == 401  # the old key is dead
    with clients.service_client() as client:  # the portal carries on with the new one
        assert client.masked_key == f"{new.prefix}.***"
        assert client.get_settings() is not None
    # Neither key, nor the secret half of either, is anywhere in the database.
    text = database_text()
    for secret in (account.api_key, new.key):
        assert secret not in text and secret.split(".")[1] not in text


def test_after_rotation_the_old_environment_key_is_not_used_again(account):
    rotation.rotate()
    new = keys.key_in_use()
    assert keys.api_key_in_use() == new.key  # CLARIUS_API_KEY still holds the old one


def test_a_new_environment_key_replaces_the_stored_one(account, clarius_settings):
    fresh = account.state.create_key("set by the operator").key
    clarius_settings.CLARIUS_API_KEY = fresh
    assert keys.api_key_in_use() == fresh
    assert ServiceApiKey.objects.get(prefix=prefix_of(account.api_key)).state == "retired"


def test_a_failed_proof_leaves_the_portal_on_the_old_key(account):
    old = prefix_of(account.api_key)
    fail_next(account, "GET")
    report = rotation.rotate()
    assert not report.ok
    assert keys.key_in_use().prefix == old
    assert keys_at_clarius(account) == {old}  # the unproven key was revoked again
    candidate = ServiceApiKey.objects.get(prefix=report.new_prefix)
    assert (candidate.state, candidate.key_encrypted) == ("discarded", "")
    assert any("failed its test call" in step for step in report.steps)
    with clients.service_client() as client:
        assert client.list_api_keys()


def test_a_failed_proof_and_cleanup_say_which_key_to_revoke(account):
    fail_next(account, "GET")
    fail_next(account, "DELETE", path=r"services/api-keys/\w+/")
    report = rotation.rotate()
    assert not report.ok
    assert keys.key_in_use().prefix == prefix_of(account.api_key)
    assert ServiceApiKey.objects.get(prefix=report.new_prefix).state == "candidate"
    assert f"clarius keys revoke {report.new_prefix}" in report.steps[-1]


def test_a_failed_revoke_leaves_the_portal_on_the_new_key(account):
    old = prefix_of(account.api_key)
    fail_next(account, "DELETE", path=r"services/api-keys/\w+/")
    report = rotation.rotate()
    assert not report.ok
    assert keys.key_in_use().prefix == report.new_prefix
    assert keys_at_clarius(account) == {old, report.new_prefix}
    assert ServiceApiKey.objects.get(prefix=old).state == "retired"
    assert f"clarius keys revoke {old}" in report.steps[-1]
    with clients.service_client() as client:
        keys.revoke_key(client, old)  # the operator finishes the job
    assert keys_at_clarius(account) == {report.new_prefix}
    retired = ServiceApiKey.objects.get(prefix=old)
    assert (retired.state, retired.key_encrypted) == ("revoked", "")


def test_a_failed_creation_changes_nothing(account):
    account.inject("services/api-keys/", "POST", status=503)
    report = rotation.rotate()
    assert not report.ok
    assert ServiceApiKey.objects.count() == 1
    assert keys.key_in_use().prefix == prefix_of(account.api_key)
    assert "Nothing changed" in report.steps[0]


def test_revoking_the_key_in_use_is_refused(account):
    with clients.service_client() as client, pytest.raises(keys.KeyRefused) as info:
        keys.revoke_key(client, prefix_of(account.api_key))
    assert "refuses a key that revokes itself" in str(info.value)
    assert keys_at_clarius(account) == {prefix_of(account.api_key)}


def test_revoking_an_unknown_key_says_so(account):
    with clients.service_client() as client, pytest.raises(keys.KeyRefused, match="no key"):
        keys.revoke_key(client, "NoSuchK1")


# --- the command ---------------------------------------------------------------------


def run(*args):
    out = StringIO()
    call_command("clarius", *args, stdout=out)
    return out.getvalue()


def test_the_command_lists_creates_and_revokes_keys(account):
    listing = run("keys", "list")
    assert f"IN USE {prefix_of(account.api_key)}.***" in listing
    assert account.api_key not in listing

    created = run("keys", "create", "for the lab")
    full_key = created.splitlines()[1]
    assert full_key in {k.key for k in account.state.api_keys.values()}
    assert full_key not in database_text()  # shown once, never kept
    assert full_key not in run("keys", "list")

    assert "Revoked" in run("keys", "revoke", prefix_of(full_key))
    with pytest.raises(CommandError, match="is the key this portal uses"):
        run("keys", "revoke", prefix_of(account.api_key))


def test_the_command_rotates_and_reports_a_failure(account):
    assert "Rotated: the portal uses" in run("keys", "rotate", "--name", "cli")
    fail_next(account, "DELETE", path=r"services/api-keys/\w+/")
    with pytest.raises(CommandError, match="did not finish"):
        run("keys", "rotate")


# --- the admin page ---------------------------------------------------------------------


def test_the_keys_page_lists_keys_masked(account, root_client):
    page = root_client.get(reverse("admin:clarius_serviceapikey_changelist"))
    body = page.content.decode()
    assert page.status_code == 200
    assert f"{prefix_of(account.api_key)}.***" in body and "in use" in body
    assert account.api_key.split(".")[1] not in body


def test_a_key_created_on_the_page_is_shown_once(account, root_client):
    response = root_client.post(reverse("admin:clarius_serviceapikey_create"), {"name": "lab"})
    created = next(k for k in account.state.api_keys.values() if k.name == "lab")
    assert created.key in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    listing = root_client.get(reverse("admin:clarius_serviceapikey_changelist"))
    assert created.key not in listing.content.decode()
    assert f"{created.prefix}.***" in listing.content.decode()


def test_rotation_and_refusal_from_the_page(account, root_client):
    old = prefix_of(account.api_key)
    response = root_client.post(reverse("admin:clarius_serviceapikey_revoke"), {"prefix": old})
    followed = root_client.get(response.url).content.decode()
    assert "is the key this portal uses" in followed
    root_client.post(reverse("admin:clarius_serviceapikey_rotate"), {"name": "from admin"})
    assert keys.key_in_use().name == "from admin"
    assert keys_at_clarius(account) == {keys.key_in_use().prefix}


@pytest.mark.parametrize(
    "name", ["changelist", "create", "rotate", "revoke"], ids=lambda n: f"keys-{n}"
)
def test_staff_who_are_not_superusers_are_refused(account, client, alice, name):
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    url = reverse(f"admin:clarius_serviceapikey_{name}")
    response = client.post(url) if name != "changelist" else client.get(url)
    assert response.status_code == 403
    assert keys_at_clarius(account) == {prefix_of(account.api_key)}


def test_members_are_sent_to_the_admin_login(account, client, bob):
    client.force_login(bob)
    response = client.get(reverse("admin:clarius_serviceapikey_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_the_account_pages_are_in_the_admin_index_for_superusers_only(root_client, client, alice):
    body = root_client.get(reverse("admin:index")).content.decode()
    for label in ["API keys", "Service settings", "Notification records", "Annotation presets"]:
        assert label in body
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    assert (
        "Notification records (Clarius" not in client.get(reverse("admin:index")).content.decode()
    )
