"""The admin's webhook pages, and the tenant matrix: alice (Northside admin), bob
(Northside reviewer), charlie (Southside admin)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from integrations.webhooks import endpoints, tasks
from integrations.webhooks.models import Delivery, Endpoint, Event
from portal import events
from tests.factories import make_exam


@pytest.fixture
def south_hooked(southside, other_receiver):
    return endpoints.create(southside, other_receiver.url, events.EVENT_TYPES)


def as_user(client, user, institution=None):
    client.force_login(user)
    if institution:
        client.post(reverse("switch-institution"), {"institution": institution})
    return client


def no_inline_code(html: str):
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert "<style" not in html and " style=" not in html, "inline style"
    assert not re.search(r"<[^>]+\son[a-z]+=", html), "inline event handler"


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(client, trio, receiver):
    alice = trio[0]
    as_user(client, alice)
    page = client.get(reverse("webhook-list"))
    assert page.status_code == 200
    no_inline_code(page.content.decode())
    response = client.post(
        reverse("webhook-list"),
        {"url": receiver.url, "events": ["exam.ready", "exam.signed"], "description": "EHR"},
    )
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    no_inline_code(html)
    secret = re.search(r'value="(whsec_[^"]+)"', html).group(1)
    endpoint = Endpoint.objects.get()
    assert endpoint.institution.slug == "northside" and endpoint.created_by == alice
    assert endpoint.events == ["exam.ready", "exam.signed"]
    for url in (reverse("webhook-list"), reverse("webhook-detail", args=[endpoint.pk])):
        assert secret not in client.get(url).content.decode()


def test_edit_rotate_disable_enable_remove(client, trio, hooked, receiver):
    alice = trio[0]
    endpoint, old = hooked
    as_user(client, alice)
    detail = reverse("webhook-detail", args=[endpoint.pk])
    page = client.get(detail)
    assert page.status_code == 200
    no_inline_code(page.content.decode())

    response = client.post(detail, {"url": receiver.url + "/v2", "events": ["report.sent"]})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url.endswith("/v2") and endpoint.events == ["report.sent"]
    assert client.post(detail, {"url": receiver.url, "events": ["nope"]}).status_code == 400

    response = client.post(reverse("webhook-rotate", args=[endpoint.pk]), {"overlap_hours": "2"})
    new = re.search(r'value="(whsec_[^"]+)"', response.content.decode()).group(1)
    assert new != old
    endpoint.refresh_from_db()
    assert len(endpoints.signing_secrets(endpoint)) == 2

    client.post(reverse("webhook-disable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    client.post(reverse("webhook-enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.enabled
    client.post(reverse("webhook-remove", args=[endpoint.pk]))
    assert not Endpoint.objects.exists()


def test_deliveries_are_listed_and_redelivered_with_the_same_id(
    client, trio, hooked, receiver, northside, django_capture_on_commit_callbacks
):
    alice, bob, _ = trio
    endpoint, secret = hooked
    receiver.answers = [500]
    with django_capture_on_commit_callbacks(execute=True):
        events.emit(events.EXAM_READY, make_exam(northside, bob))
    delivery = Delivery.objects.get()  # sent at once after the commit, and failed
    assert delivery.status_code == 500
    as_user(client, alice)
    html = client.get(reverse("webhook-detail", args=[endpoint.pk])).content.decode()
    assert "HTTP 500" in html and delivery.event.webhook_id in html and "Redeliver" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webhook-redeliver", args=[endpoint.pk, delivery.pk]))
    assert response.status_code == 302
    assert Delivery.objects.count() == 2
    assert Delivery.objects.order_by("-pk").first().state == "delivered"
    assert len(set(receiver.ids())) == 1
    receiver.verified(secret)


def test_the_tenant_matrix(
    client, trio, hooked, south_hooked, receiver, other_receiver, northside, southside
):
    alice, bob, charlie = trio
    north, _ = hooked
    south, _ = south_hooked
    # An institution's events never go to another's endpoints.
    events.emit(events.EXAM_SIGNED, make_exam(northside, bob))
    events.emit(events.EXAM_SIGNED, make_exam(southside, charlie))
    for delivery in Delivery.objects.all():
        assert delivery.endpoint.institution_id == delivery.event.institution_id
        tasks.deliver_webhook(delivery.pk)
    assert [b["data"]["institution"] for b in receiver.bodies()] == ["northside"]
    assert [b["data"]["institution"] for b in other_receiver.bodies()] == ["southside"]
    north_delivery = Delivery.objects.get(endpoint=north)

    north_pages = [
        ("get", reverse("webhook-detail", args=[north.pk])),
        ("post", reverse("webhook-rotate", args=[north.pk])),
        ("post", reverse("webhook-disable", args=[north.pk])),
        ("post", reverse("webhook-enable", args=[north.pk])),
        ("post", reverse("webhook-remove", args=[north.pk])),
        ("post", reverse("webhook-redeliver", args=[north.pk, north_delivery.pk])),
    ]
    # charlie (Southside's admin) and alice working in Southside (a clinician there): 404.
    for user, where in ((charlie, None), (alice, "southside"), (bob, None)):
        client.logout()
        as_user(client, user, where)
        for method, url in north_pages:
            assert getattr(client, method)(url).status_code == 404, (user, url)
        list_status = client.get(reverse("webhook-list")).status_code
        assert list_status == (200 if user == charlie else 404)
    # charlie sees only Southside's endpoint; a Southside delivery under a Northside
    # endpoint's URL is a 404 as well.
    client.logout()
    as_user(client, charlie)
    html = client.get(reverse("webhook-list")).content.decode()
    assert other_receiver.url in html and receiver.url not in html
    south_delivery = Delivery.objects.get(endpoint=south)
    url = reverse("webhook-redeliver", args=[south.pk, north_delivery.pk])
    assert client.post(url).status_code == 404
    url = reverse("webhook-redeliver", args=[north.pk, south_delivery.pk])
    assert client.post(url).status_code == 404
    assert Endpoint.objects.filter(pk=north.pk, enabled=True).exists()
    assert Event.objects.count() == 2 and Delivery.objects.count() == 2


def test_anonymous_users_are_sent_to_log_in(client, hooked):
    response = client.get(reverse("webhook-list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_django_admin_pages(client, hooked, northside, bob, admin_user):
    events.emit(events.EXAM_READY, make_exam(northside, bob))
    client.force_login(admin_user)
    endpoint, secret = hooked
    for name, args in (
        ("admin:webhooks_endpoint_changelist", []),
        ("admin:webhooks_endpoint_change", [endpoint.pk]),
        ("admin:webhooks_event_changelist", []),
        ("admin:webhooks_delivery_changelist", []),
        ("admin:webhooks_delivery_change", [Delivery.objects.get().pk]),
    ):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name
        assert secret not in response.content.decode()
        assert endpoint.secret_encrypted not in response.content.decode()
