"""A real MLLP listener (integrations.hl7.listener, on hl7apy's MLLPServer) on a free
port, and an HL7 destination of Northside pointing at it.

The listener parses every message strictly as a 2.5.1 ORU^R01 and answers AA, or what
the test scripts in ``listener.answers`` ("AE", "AR", "none").
"""

from __future__ import annotations

import pytest

from integrations.hl7 import listener as hl7_listener
from integrations.hl7 import mllp
from portal.outbound.models import Destination, Transmission
from portal.outbound.sending import send_transmission
from portal.reports.models import Report


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


@pytest.fixture(autouse=True)
def ack_timeout(monkeypatch):
    """Ten seconds for an ACK (a loaded machine parses slowly); the test of a receiver
    that never answers shortens it to one."""
    monkeypatch.setattr(mllp, "TIMEOUT_SECONDS", 10.0)


@pytest.fixture
def listener():
    server = hl7_listener.serve("127.0.0.1", 0)
    server.hold_seconds = 3.0
    yield server
    server.stop()


@pytest.fixture
def ehr(northside, alice, listener):
    destination = Destination(
        institution=northside,
        name="Northside EHR",
        kind="hl7",
        options={
            "host": "127.0.0.1",
            "port": listener.port,
            "receiving_app": "EPIC",
            "receiving_facility": "NORTHSIDE",
            "include_pdf": True,
        },
        send_images=False,
        created_by=alice,
    )
    destination.save()
    return destination


def transmissions(report) -> list[Transmission]:
    return list(Transmission.objects.filter(report=report).order_by("pk"))


def deliver(report) -> Transmission:
    """Send the version's one HL7 transmission as the worker does; the row after."""
    (row,) = transmissions(report)
    send_transmission(row.pk)
    row.refresh_from_db()
    return row


# A small, valid PDF: most tests are about the message, not the drawing (WeasyPrint takes
# seconds per report); the first test sends a real one.
SMALL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def quickly_built(report) -> Report:
    """The version's PDF in place (a small one) and the version due for delivery, as the
    worker leaves it after drawing: its transmissions are planned."""
    import hashlib

    from portal import storage
    from portal.reports.issuing import mark_built

    storage.save_bytes(report.file, SMALL_PDF)
    assert mark_built(
        report, {"size": len(SMALL_PDF), "sha256": hashlib.sha256(SMALL_PDF).hexdigest()}
    )
    report.refresh_from_db()
    return report
