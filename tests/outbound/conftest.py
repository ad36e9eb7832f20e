"""A kind of destination the tests control, registered for the test and removed after.

The core is generic over ``portal.outbound.kinds``: these tests never name a protocol.
``receiver.answers`` are what each ``send`` does in turn (a string is the remote's
answer; an exception is raised); ``receiver.test_answer`` / ``test_error`` /
``test_hang`` the same for "Test connection".
"""

from __future__ import annotations

import threading

import pytest

from portal.outbound import kinds
from portal.outbound.models import Destination

KEY = "outbound-tests"


class Receiver:
    def __init__(self):
        self.answers: list = []
        self.sent: list[int] = []
        self.test_answer = "It answered the check in 3 ms."
        self.test_error: Exception | None = None
        self.test_hang = 0.0
        self.release = threading.Event()

    def send(self, transmission) -> str:
        self.sent.append(transmission.pk)
        answer = self.answers.pop(0) if self.answers else "Stored (status 0x0000)"
        if isinstance(answer, Exception):
            raise answer
        transmission.uid = f"2.25.{transmission.pk}"
        return answer

    def test(self, destination) -> str:
        if self.test_hang:
            self.release.wait(self.test_hang)
        if self.test_error is not None:
            raise self.test_error
        return self.test_answer

    @staticmethod
    def describe(destination) -> str:
        return f"{destination.option('host', '?')}:{destination.option('port', 104)}"


@pytest.fixture
def receiver():
    receiver = Receiver()
    kind = kinds.Kind(
        key=KEY,
        label="Test receiver",
        carries=kinds.IMAGES | kinds.REPORT,
        send=receiver.send,
        test=receiver.test,
        describe=receiver.describe,
        options=(
            kinds.Option("host", "Host", required=True, help="Where it listens."),
            kinds.Option("port", "Port", type="int", default=104),
            kinds.Option("station", "Station name", max_length=16),
            kinds.Option("tls", "TLS", type="bool", default=False),
            kinds.Option("url", "Web address", type="url"),
        ),
        secret_label="Access token",
        help="A receiver the tests control.",
    )
    kinds.register(kind)
    yield receiver
    receiver.release.set()
    kinds._kinds.entries.pop(KEY, None)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


def make_destination(institution, name="Main PACS", **fields) -> Destination:
    secret = fields.pop("secret", "")
    destination = Destination(
        institution=institution,
        name=name,
        kind=fields.pop("kind", KEY),
        options=fields.pop("options", {"host": "pacs.example.org", "port": 104}),
        **fields,
    )
    destination.secret = secret
    destination.save()
    return destination


@pytest.fixture
def north_pacs(northside, receiver):
    return make_destination(northside)


@pytest.fixture
def south_pacs(southside, receiver):
    return make_destination(southside, name="South PACS")


def as_user(client, user, institution=None):
    from django.urls import reverse

    client.force_login(user)
    if institution:
        client.post(reverse("switch-institution"), {"institution": institution})
    return client
