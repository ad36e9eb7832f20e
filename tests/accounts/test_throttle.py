"""The login throttle's inputs are bounded and storable whatever a client sends."""

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.urls import reverse

from portal.accounts.throttle import client_ip, login_username


@pytest.mark.parametrize("entry", ["1.2.3.4:80", "fe80::1%eth0", "unknown", "<script>"])
def test_a_forwarded_entry_that_is_not_an_address_counts_as_the_proxys(settings, entry):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=entry)
    assert client_ip(request) == "10.9.9.9"


@pytest.mark.parametrize("url", ["login", "admin:login"])
def test_a_failed_login_behind_a_proxy_that_forwards_nonsense_is_recorded(
    client, db, settings, url
):
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    response = client.post(
        reverse(url),
        {"username": "a@example.org", "password": "wrong"},
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR="1.2.3.4:80",
    )
    assert response.status_code == 200
    assert AccessAttempt.objects.get().ip_address == "10.9.9.9"


def test_the_admin_login_refuses_an_over_long_address_before_the_throttle(client, db):
    response = client.post(
        reverse("admin:login"), {"username": "a" * 300 + "@example.org", "password": "x"}
    )
    assert response.status_code == 200
    assert not AccessAttempt.objects.exists()


def test_the_throttle_key_is_never_longer_than_its_column():
    request = RequestFactory().post("/", {})
    assert len(login_username(request, {"username": "\x01a" * 1000})) <= 254
