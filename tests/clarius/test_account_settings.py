"""The service settings page: Clarius' settings next to ours, register, webhook secret."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from integrations.clarius.account.registration import (
    active_endpoint,
    notification_url,
    wanted_settings,
)
from integrations.clarius.models import NotificationEndpoint

pytestmark = pytest.mark.django_db
PAGE = "admin:clarius_accountsettings_changelist"


@pytest.fixture
def root_client(client, clarius_settings):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    return client


def post_notification(client, url):
    payload = {"request_uuid": "not even valid"}
    return client.post(url, json.dumps(payload), content_type="application/json")


def test_the_page_compares_clarius_settings_with_ours(root_client, clarius_sandbox):
    body = root_client.get(reverse(PAGE)).content.decode()
    assert "differs" in body and "(empty)" in body
    assert active_endpoint().secret not in body  # the secret is masked everywhere

    response = root_client.post(reverse("admin:clarius_accountsettings_register"))
    assert response.status_code == 302
    assert clarius_sandbox.state.settings == wanted_settings()
    body = root_client.get(reverse(PAGE)).content.decode()
    assert "differs" not in body and "Clarius already has them" in body


def test_rotating_the_webhook_secret_registers_a_new_url(root_client, clarius_sandbox, client):
    old = active_endpoint()
    old_url = notification_url(old).removeprefix("http://127.0.0.1:8000")
    assert post_notification(client, old_url).status_code == 400  # reached, then refused

    root_client.post(reverse("admin:clarius_accountsettings_rotate_secret"))
    new = active_endpoint()
    assert new.secret != old.secret
    assert clarius_sandbox.state.settings["notification_url"] == notification_url(new)
    assert post_notification(client, old_url).status_code == 404
    new_url = notification_url(new).removeprefix("http://127.0.0.1:8000")
    assert post_notification(client, new_url).status_code == 400


def test_a_refused_registration_keeps_the_old_secret(root_client, clarius_sandbox, client):
    old = active_endpoint()
    clarius_sandbox.inject("services/settings/", "PATCH", status=500)
    response = root_client.post(reverse("admin:clarius_accountsettings_rotate_secret"))
    assert "Nothing changed" in root_client.get(response.url).content.decode()
    assert active_endpoint() == old
    assert NotificationEndpoint.objects.count() == 1
    old_url = notification_url(old).removeprefix("http://127.0.0.1:8000")
    assert post_notification(client, old_url).status_code == 400


def test_the_settings_command_agrees_with_the_page(root_client, clarius_sandbox):
    out = StringIO()
    call_command("clarius", "register", stdout=out)
    call_command("clarius", "settings", stdout=out)
    assert "ok      notification_url" in out.getvalue()
    assert active_endpoint().secret not in out.getvalue()


@pytest.mark.parametrize("name", ["changelist", "register", "rotate_secret"])
def test_staff_who_are_not_superusers_are_refused(client, alice, clarius_settings, name):
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    url = reverse(f"admin:clarius_accountsettings_{name}")
    response = client.get(url) if name == "changelist" else client.post(url)
    assert response.status_code == 403
