"""A real SMTP server for the notification tests, and helpers to read what it received.

The server is aiosmtpd's, started on a free loopback port by the test; Django's SMTP
backend talks to it as it would to the production relay. Locally a missing aiosmtpd
skips its tests; under CI=true the suite's conftest turns the skip into a failure.
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
from dataclasses import dataclass, field

import pytest

from portal.notifications import emails
from portal.notifications.models import Email
from portal.tenants.models import Membership
from tests.conftest import make_user


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    @property
    def whole(self) -> str:
        """Everything a reader or a mail relay could see: headers and body."""
        return f"{self.message.as_string()}\n{self.subject}\n{self.text}"


@dataclass
class Collector:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    """An SMTP server on loopback; the portal's email goes to it over SMTP."""
    controller_module = pytest.importorskip(
        "aiosmtpd.controller", reason="aiosmtpd is not installed (pip install aiosmtpd)"
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's every command
    collector = Collector()
    port = free_port()
    controller = controller_module.Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield collector
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


def send_queued() -> list[str]:
    """What the worker does for each queued email (the sweeper's part, in the test)."""
    return [
        emails.send_email(pk)
        for pk in Email.objects.filter(state="queued").values_list("pk", flat=True)
    ]


@pytest.fixture
def dora(northside):
    """A second reviewer at Northside."""
    user = make_user("dora@example.org", "Dora Reviewer")
    Membership.objects.create(user=user, institution=northside, role=Membership.Role.REVIEWER)
    return user


@pytest.fixture
def erin(northside):
    """A clinician at Northside."""
    user = make_user("erin@example.org", "Erin Clinician")
    Membership.objects.create(user=user, institution=northside, role=Membership.Role.CLINICIAN)
    return user
