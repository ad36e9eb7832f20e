"""Where webhooks may go (SSRF): https only, public addresses only, no redirects followed.

The development settings allow http and loopback (the demo's receiver); these tests turn
both off, as production has them, unless a test is about the operator's setting.
"""

from __future__ import annotations

import socket

import pytest
from django.urls import reverse

from integrations.webhooks import addresses, endpoints, tasks
from integrations.webhooks.models import Delivery, Endpoint
from portal import events
from tests.factories import make_exam

PUBLIC = "93.184.215.14"


@pytest.fixture
def production(settings):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = False
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = False
    return settings


@pytest.fixture
def dns(monkeypatch):
    """A fake resolver: ``dns["partner.example"] = ["1.2.3.4"]``; IP literals resolve
    as the real resolver does, anything else does not resolve."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in table[host]
            ]
        try:
            return real(host, port, *args, flags=socket.AI_NUMERICHOST, **kwargs)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://partner.example/hook", "https://"),
        ("ftp://partner.example/hook", "https://"),
        ("https://user:pw@partner.example/hook", "user name or password"),
        ("https://partner.example/hook#x", "fragment"),
        ("https:///hook", "no host"),
        ("https://partner.example:99999/", "malformed"),
        ("https://partner.example/a b", "spaces or control"),
        ("https://partner.example/\x00", "spaces or control"),
        ("https://127.0.0.1/", "loopback"),
        ("https://localhost/", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://2130706433/", "loopback"),
        ("https://0x7f.1/", "loopback"),
        ("https://10.1.2.3/", "private"),
        ("https://192.168.0.10/", "private"),
        ("https://172.16.5.4/", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[fe80::1]/", "link-local"),
        ("https://224.0.0.1/", "multicast"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://240.0.0.1/", "reserved"),
        ("https://100.64.0.1/", "address"),
        ("https://rebind.example/", "private"),  # one of its addresses is private
        ("https://nowhere.invalid/", "does not resolve"),
        ("https://" + "a" * 2000 + ".example/", "longer than"),
    ],
)
def test_refused_urls(production, dns, url, reason):
    dns["localhost"] = ["127.0.0.1"]
    dns["rebind.example"] = [PUBLIC, "10.0.0.7"]
    dns["2130706433"] = ["127.0.0.1"]
    dns["0x7f.1"] = ["127.0.0.1"]
    with pytest.raises(addresses.UrlRefused) as refused:
        addresses.check(url)
    assert reason in str(refused.value)


def test_a_public_https_url_is_accepted(production, dns):
    dns["partner.example"] = [PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    target, found = addresses.check("https://partner.example:8443/hooks?v=1")
    assert (target.host, target.port, target.path) == ("partner.example", 8443, "/hooks?v=1")
    assert found[0] == PUBLIC


def test_the_operator_setting_allows_private_addresses(settings, dns):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = False
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = True
    dns["hooks.internal"] = ["10.0.0.7"]
    addresses.check("https://hooks.internal/x")
    with pytest.raises(addresses.UrlRefused):
        addresses.check("http://hooks.internal/x")  # http stays refused


def test_registration_answers_400_with_the_reason(production, client, trio, dns):
    alice = trio[0]
    client.force_login(alice)
    response = client.post(
        reverse("webhook-list"),
        {"url": "https://169.254.169.254/latest/", "events": ["exam.ready"]},
    )
    assert response.status_code == 400
    assert "link-local" in response.content.decode()
    assert not Endpoint.objects.exists()
    response = client.post(
        reverse("webhook-list"), {"url": "https://x.example/\x00", "events": ["exam.ready"]}
    )
    assert response.status_code == 400


def test_the_command_refuses_with_the_reason(production, northside, dns):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="loopback"):
        call_command("webhook", "add", "northside", "https://127.0.0.1/", "--events", "exam.ready")


def test_send_time_recheck_refuses_a_name_that_now_resolves_inside(production, dns, northside, bob):
    """DNS rebinding: public when registered, private when sent: refused, never sent."""
    dns["partner.example"] = [PUBLIC]
    endpoints.create(northside, "https://partner.example/hook", ["exam.ready"])
    dns["partner.example"] = ["127.0.0.1"]
    events.emit(events.EXAM_READY, make_exam(northside, bob))
    delivery = Delivery.objects.get()
    connections = []
    import integrations.webhooks.sending as sending

    original = sending.socket.create_connection
    sending.socket.create_connection = lambda *a, **k: connections.append(a) or original(*a, **k)
    try:
        assert tasks.deliver_webhook(delivery.pk) == "retry"
    finally:
        sending.socket.create_connection = original
    delivery.refresh_from_db()
    assert "loopback" in delivery.last_error and connections == []


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    settings, dns, receiver, northside, bob
):
    """The name is resolved once, checked, and the socket connects to that address; the
    request still names the host (a rebinding answer in between is never used)."""
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = True
    settings.PORTAL_WEBHOOKS_ALLOW_PRIVATE = True
    dns["partner.example"] = ["127.0.0.1"]
    endpoints.create(northside, f"http://partner.example:{receiver.port}/h", ["exam.ready"])
    events.emit(events.EXAM_READY, make_exam(northside, bob))
    assert tasks.deliver_webhook(Delivery.objects.get().pk) == "delivered"
    assert receiver.requests[0]["headers"]["Host"] == f"partner.example:{receiver.port}"


def test_redirects_are_not_followed(hooked, receiver, other_receiver, northside, bob):
    receiver.answers = [302]
    receiver.redirect_to = other_receiver.url
    events.emit(events.EXAM_READY, make_exam(northside, bob))
    delivery = Delivery.objects.get()
    assert tasks.deliver_webhook(delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert delivery.status_code == 302 and "redirects are not followed" in delivery.last_error
    assert other_receiver.requests == []
