"""The "hl7" destination kind: a report version as an ORU^R01 over MLLP.

``send`` builds the message (``message.build``), sends it and reads the ACK
(``mllp.deliver``); ``test`` is an MLLP round trip with a test ORU^R01 (processing ID
``T``, so no receiver files it as a real result); ``describe`` says where it goes.
"""

from __future__ import annotations

from django.utils import timezone

from integrations.hl7 import message, mllp
from portal.outbound.kinds import DeliveryFailed

DEFAULT_PORT = 2575  # the port IANA registered for HL7 over MLLP


def _where(destination) -> tuple[str, int, bool]:
    host = (destination.option("host") or "").strip()
    if not host:
        raise DeliveryFailed("the destination has no host", permanent=True)
    try:
        port = int(destination.option("port") or DEFAULT_PORT)
    except (TypeError, ValueError):
        raise DeliveryFailed("the destination's port is not a number", permanent=True) from None
    if not 0 < port < 65536:
        raise DeliveryFailed(f"port {port} is not a TCP port", permanent=True)
    return host, port, bool(destination.option("tls", False))


def send(transmission) -> str:
    if transmission.what != "report" or transmission.report_id is None:
        raise DeliveryFailed("HL7 results carry report versions only", permanent=True)
    destination = transmission.destination
    host, port, tls = _where(destination)
    try:
        text = message.build(
            transmission, include_pdf=bool(destination.option("include_pdf", True))
        )
    except FileNotFoundError:
        raise DeliveryFailed("the report's PDF is missing from the portal's storage") from None
    except message.MessageInvalid as e:
        raise DeliveryFailed(f"the portal made an invalid HL7 message: {e}", permanent=True) from e
    ack = mllp.deliver(text, transmission.uid, host, port, tls=tls)
    return f"{ack.code}: {ack.text}" if ack.text else ack.code


def test(destination) -> str:
    """Send a test ORU^R01 and expect AA. An ORU^R01 because it is the one message type
    the receiver is set up to take from us (a receiver may refuse any other type with
    AR); processing ID ``T`` (training) and a patient named CONNECTION TEST, so an
    engine that routes it anyway files nothing real. "ACK AA in N ms"."""
    host, port, tls = _where(destination)
    ctrl_id = "TEST" + timezone.now().strftime("%Y%m%d%H%M%S")
    sending_app = destination.option("sending_app") or message.DEFAULT_SENDING_APP
    now = message.ts(timezone.now())
    segments = [
        message.msh(
            sending_app=sending_app,
            sending_facility=destination.option("sending_facility") or destination.institution.name,
            receiving_app=destination.option("receiving_app") or "",
            receiving_facility=destination.option("receiving_facility") or "",
            when=now,
            ctrl_id=ctrl_id,
            processing_id="T",
        ),
        f"PID|1||CONNECTION-TEST^^^{message.escape(sending_app)}^PI||TEST^CONNECTION",
        f"OBR|1||{ctrl_id}^{message.escape(sending_app)}|CONNTEST^Connection test^L|||{now}"
        + "|" * 18
        + "F",
    ]
    text = "\r".join(segments) + "\r"
    message.check(text)
    ack = mllp.deliver(text, ctrl_id, host, port, tls=tls)
    return f"ACK {ack.code} in {ack.elapsed_ms} ms"


def describe(destination) -> str:
    host = destination.option("host") or "?"
    port = destination.option("port") or DEFAULT_PORT
    app = destination.option("receiving_app") or ""
    facility = destination.option("receiving_facility") or ""
    where = f"{host}:{port}"
    if app or facility:
        where += f" ({app}/{facility})" if facility else f" ({app})"
    return where
