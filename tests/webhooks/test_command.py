"""``python manage.py webhook add|list|remove``."""

import io

import pytest
from django.core.management import CommandError, call_command
from standardwebhooks.webhooks import Webhook

from integrations.webhooks.models import Endpoint


def run(*args):
    out = io.StringIO()
    call_command("webhook", *args, stdout=out)
    return out.getvalue()


def test_add_prints_the_secret_last_then_list_and_remove(northside, southside, receiver):
    out = run("add", "northside", receiver.url, "--events", "exam.ready,exam.signed")
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    Webhook(secret)  # a secret the reference implementation accepts
    endpoint = Endpoint.objects.get()
    assert endpoint.events == ["exam.ready", "exam.signed"]
    assert endpoint.institution == northside

    listing = run("list", "northside")
    assert receiver.url in listing and secret not in listing
    assert "no webhook endpoints" in run("list", "southside")

    assert "Removed endpoint" in run("remove", str(endpoint.pk))
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["add", "nowhere", "https://x.example/", "--events", "exam.ready"], "slug"),
        (["add", "northside", "http://127.0.0.1/", "--events", "exam.nope"], "Unknown event"),
        (["add", "northside", "http://127.0.0.1/", "--events", ","], "at least one"),
        (["list", "nowhere"], "slug"),
        (["remove", "999"], "999"),
    ],
)
def test_refusals_name_the_reason(northside, args, reason):
    with pytest.raises(CommandError, match=reason):
        run(*args)


def test_reencrypt_moves_every_secret_to_the_first_key(northside, receiver, settings):
    from cryptography.fernet import Fernet

    from integrations.webhooks import endpoints
    from portal.encryption import decrypt

    old_keys = list(settings.PORTAL_ENCRYPTION_KEYS)
    endpoint, secret = endpoints.create(northside, receiver.url, ["exam.ready"])
    rotated = endpoints.rotate(endpoint)
    settings.PORTAL_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]
    assert "Re-encrypted 2" in run("reencrypt")
    settings.PORTAL_ENCRYPTION_KEYS = settings.PORTAL_ENCRYPTION_KEYS[:1]  # old key dropped
    endpoint.refresh_from_db()
    assert decrypt(endpoint.secret_encrypted) == rotated
    assert decrypt(endpoint.previous_secret_encrypted) == secret
