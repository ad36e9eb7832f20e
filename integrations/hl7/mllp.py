"""An MLLP client: one HL7 message per connection, its acknowledgement read and judged.

MLLP frames a message as ``<VT> message <FS><CR>``; the receiver answers with an ACK in
the same frame on the same connection (HL7 original acknowledgement mode: MSH-15/16
empty). MSA-1 says what became of it:

- ``AA`` (or ``CA``): accepted, delivered; the answer kept is ``AA: <MSA-3 text>``;
- ``AE`` / ``AR`` (``CE`` / ``CR``): the receiver's error or rejection, with its text
  (MSA-3, else the ERR segment), raised as ``DeliveryFailed`` and retried by the one
  policy (a receiver's interface is often fixed, or restarted, without telling us);
- no ACK within the timeout, a closed connection, a refused one: ``DeliveryFailed``,
  transient, retried. The message control ID stays the same on each retry.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass

from portal.outbound.kinds import DeliveryFailed

START = b"\x0b"
END = b"\x1c\r"
# How long we wait for the receiver's ACK after sending (seconds). Tests shorten it.
TIMEOUT_SECONDS = 30.0
CONNECT_SECONDS = 10.0
ACK_LIMIT = 1_000_000  # an acknowledgement is a few hundred bytes; stop reading beyond this
ACCEPTED = ("AA", "CA")
REFUSED = ("AE", "AR", "CE", "CR")


@dataclass
class Ack:
    code: str  # MSA-1
    control_id: str  # MSA-2: the message it acknowledges
    text: str  # MSA-3, else the ERR segment's words
    raw: str
    elapsed_ms: int

    @property
    def accepted(self) -> bool:
        return self.code in ACCEPTED


def frame(message: str) -> bytes:
    return START + message.encode("utf-8") + END


def send(message: str, host: str, port: int, *, tls: bool = False, timeout: float | None = None):
    """Send one message and return its ``Ack``; raise ``DeliveryFailed`` (transient)
    when nothing usable comes back."""
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    where = f"{host}:{port}"
    started = time.monotonic()
    try:
        sock = socket.create_connection((host, int(port)), timeout=min(CONNECT_SECONDS, timeout))
    except ConnectionRefusedError:
        raise DeliveryFailed(
            f"{where} refused the connection (is the HL7 listener running?)"
        ) from None
    except TimeoutError:
        raise DeliveryFailed(f"no connection to {where} within {_seconds(timeout)}") from None
    except OSError as e:
        raise DeliveryFailed(f"cannot connect to {where}: {e.strerror or e}") from e
    try:
        if tls:
            context = ssl.create_default_context()
            try:
                sock = context.wrap_socket(sock, server_hostname=host)
            except ssl.SSLError as e:
                raise DeliveryFailed(f"TLS with {where} failed: {e.reason or e}") from e
        sock.settimeout(timeout)
        try:
            sock.sendall(frame(message))
        except OSError as e:
            raise DeliveryFailed(f"{where} closed the connection while we sent: {e}") from e
        raw = _read_frame(sock, where, timeout, started)
    finally:
        sock.close()
    ack = parse_ack(raw)
    ack.elapsed_ms = round((time.monotonic() - started) * 1000)
    return ack


def _read_frame(sock, where: str, timeout: float, started: float) -> str:
    buffer = b""
    deadline = started + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeliveryFailed(f"no acknowledgement within {_seconds(timeout)} from {where}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise DeliveryFailed(
                f"no acknowledgement within {_seconds(timeout)} from {where}"
            ) from None
        except OSError as e:
            raise DeliveryFailed(f"{where} broke the connection before acknowledging: {e}") from e
        if not chunk:
            raise DeliveryFailed(f"{where} closed the connection without an acknowledgement")
        buffer += chunk
        if len(buffer) > ACK_LIMIT:
            raise DeliveryFailed(f"{where} answered with more than {ACK_LIMIT} bytes, not an ACK")
        end = buffer.find(END)
        if end >= 0:
            start = buffer.find(START)
            if start < 0 or start > end:
                raise DeliveryFailed(f"{where} answered without MLLP framing")
            return buffer[start + 1 : end].decode("utf-8", errors="replace")


def parse_ack(raw: str) -> Ack:
    """MSA-1, MSA-2 and the receiver's words (MSA-3, else ERR-8, else ERR-3's text)."""
    from integrations.hl7.message import unescape

    segments = {}
    for line in raw.replace("\n", "\r").split("\r"):
        if line[:3] and line[:3] not in segments:
            segments[line[:3]] = line
    msh = segments.get("MSH", "")
    if not msh.startswith("MSH") or len(msh) < 8:
        raise DeliveryFailed("the receiver answered with something that is not an HL7 ACK")
    field, component = msh[3], msh[4]
    msa = segments.get("MSA", "").split(field)
    if len(msa) < 2 or not msa[1]:
        raise DeliveryFailed("the receiver's ACK has no acknowledgement code (MSA-1)")
    code = msa[1].strip().upper()
    control_id = unescape(msa[2]) if len(msa) > 2 else ""
    text = unescape(msa[3]) if len(msa) > 3 else ""
    err = segments.get("ERR", "").split(field)
    if not text and len(err) > 8 and err[8]:
        text = unescape(err[8])  # ERR-8: user message
    if not text and len(err) > 3 and err[3]:
        parts = err[3].split(component)  # ERR-3: code ^ text
        text = unescape(parts[1] if len(parts) > 1 and parts[1] else parts[0])
    if not text and len(err) > 1 and err[1]:
        text = unescape(err[1].replace(component, " ").strip())  # ERR-1 (before 2.5)
    return Ack(code=code, control_id=control_id, text=text.strip(), raw=raw, elapsed_ms=0)


def deliver(message: str, control_id: str, host, port, *, tls=False, timeout=None) -> Ack:
    """Send and insist on an ``AA`` for this very message; ``DeliveryFailed`` otherwise."""
    ack = send(message, host, port, tls=tls, timeout=timeout)
    if ack.code in REFUSED:
        words = "rejected" if ack.code in ("AR", "CR") else "reported an error"
        raise DeliveryFailed(f"the receiver {words} ({ack.code}): {ack.text or 'no reason given'}")
    if not ack.accepted:
        raise DeliveryFailed(f"the receiver answered an unknown acknowledgement code {ack.code!r}")
    if ack.control_id and ack.control_id != control_id:
        raise DeliveryFailed(
            f"the receiver acknowledged message {ack.control_id!r}, not ours ({control_id!r})"
        )
    return ack


def _seconds(value: float) -> str:
    return f"{value:g} s"
