"""A small MLLP listener: what an EHR's interface engine does, for the demo and tests.

Built on hl7apy's ``MLLPServer`` (its routing by message type and its error handler);
every message is parsed strictly as a 2.5.1 ORU^R01 (``message.check``) and answered:

- ``AA`` when it parses (the default);
- ``AE`` with the parser's words when it does not, ``AR`` for another message type;
- or what a test scripted in ``listener.answers``, one per message, in order:
  ``"AA"``, ``"AE"``, ``"AR"`` or ``"none"`` (keep the connection open and never answer,
  as a hung interface does).

``serve(host, port, on_message)`` starts it on a thread and returns the ``Listener``
(``.port``, ``.received``, ``.answers``, ``.stop()``). Run ``manage.py hl7_listen`` to
watch results arrive.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hl7apy.mllp import AbstractErrorHandler, AbstractHandler, MLLPRequestHandler, MLLPServer

from integrations.hl7.message import MessageInvalid, check, escape, unescape

ACCEPTED_TYPE = "ORU^R01^ORU_R01"
READ_LIMIT = 64 * 1024 * 1024  # a report PDF in Base64 fits many times over


@dataclass
class Received:
    raw: str  # the ER7 text, segments separated by CR
    parsed: object | None  # hl7apy's Message, or None when it did not parse
    answer: str  # the code we answered (or "none")
    error: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def segments(self) -> list[list[str]]:
        """Each segment as its fields (still escaped), MSH numbered as the standard does
        (``segments[0][1]`` is MSH-1... here MSH-2's encoding characters)."""
        return [line.split("|") for line in self.raw.split("\r") if line]

    def all(self, name: str) -> list[list[str]]:
        return [s for s in self.segments if s[0] == name]

    def field(self, segment: str, number: int, *, occurrence: int = 0) -> str:
        """Field ``number`` of a segment, escaped as sent (MSH counted as the standard)."""
        rows = self.all(segment)
        if occurrence >= len(rows):
            return ""
        row = rows[occurrence]
        index = number - 1 if segment == "MSH" else number
        return row[index] if index < len(row) else ""

    @property
    def control_id(self) -> str:
        return unescape(self.field("MSH", 10))


class Listener:
    def __init__(
        self,
        host: str,
        port: int,
        on_message: Callable | None = None,
        *,
        tls: tuple[str, str] | None = None,
    ):
        self.received: list[Received] = []
        self.answers: list[str] = []
        self.on_message = on_message
        self.arrived = threading.Event()
        self.release = threading.Event()  # lets a "none" answer end early on stop()
        self.hold_seconds = 60.0
        self._lock = threading.Lock()
        listener = self

        class Accept(AbstractHandler):
            def reply(self):
                return listener._answer(self.incoming_message, None)

        class Error(AbstractErrorHandler):
            def reply(self):
                return listener._answer(self.incoming_message, self.exc)

        self.server = MLLPServer(
            host,
            port,
            {ACCEPTED_TYPE: (Accept,), "ERR": (Error,)},
            timeout=30,
            request_handler_class=_Handler,
        )
        # stop() waits for the connections in hand, so an ACK being written is finished.
        self.server.daemon_threads = False
        self.server.block_on_close = True
        if tls is not None:
            # MLLP inside TLS: (certificate file, key file). The handshake happens on
            # the connection's own thread, at its first read.
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self, text: str, exc: Exception | None) -> str:
        parsed, error = None, ""
        if exc is not None:
            error = str(exc) or type(exc).__name__
            code = "AR"  # not a message we take (another type, or not HL7 at all)
        else:
            try:
                parsed = check(text)
                code = "AA"
            except MessageInvalid as e:
                error, code = str(e), "AE"
        with self._lock:
            scripted = self.answers.pop(0) if self.answers else None
        if scripted and code == "AA":
            code = scripted
            if code in ("AE", "AR"):
                error = "the test listener was told to refuse this message"
        received = Received(raw=text, parsed=parsed, answer=code, error=error)
        with self._lock:
            self.received.append(received)
        self.arrived.set()
        if self.on_message is not None:
            self.on_message(received)
        if code == "none":
            self.release.wait(self.hold_seconds)
            raise _NoAnswer
        return ack(text, code, error)

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _NoAnswer(Exception):
    """Close the connection without an acknowledgement (hl7apy does so on an error)."""


class _Handler(MLLPRequestHandler):
    """hl7apy's handler reads a byte at a time, adding each to the bytes so far, which is
    quadratic in the size of a message carrying a PDF; this reads in blocks, then hands
    the message to hl7apy's routing as before."""

    def handle(self):
        buffer = b""
        with contextlib.suppress(OSError):
            while b"\x1c\r" not in buffer and len(buffer) < READ_LIMIT:
                chunk = self.request.recv(65536)
                if not chunk:
                    break
                buffer += chunk
        start, end = buffer.find(b"\x0b"), buffer.find(b"\x1c\r")
        if start != 0 or end < 0:
            self.request.close()
            return
        message = buffer[1:end].decode(self.encoding, errors="replace")
        try:
            response = self._route_message(message)
        except Exception:  # noqa: BLE001 - as hl7apy does (and _NoAnswer): close unanswered
            response = None
        if response is not None:
            with contextlib.suppress(OSError):
                self.request.sendall(b"\x0b" + response.encode(self.encoding) + b"\x1c\r")
        self.request.close()


def ack(message: str, code: str, text: str = "") -> str:
    """The ACK of ``message`` (MSA-2 = its control ID; an ERR segment when refused)."""
    fields = message.split("\r", 1)[0].split("|")

    def at(n):  # MSH-n
        return fields[n - 1] if len(fields) >= n else ""

    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    trigger = at(9).split("^")[1] if "^" in at(9) else ""
    segments = [
        "|".join(
            [
                "MSH",
                "^~\\&",
                at(5),
                at(6),
                at(3),
                at(4),
                now,
                "",
                f"ACK^{trigger}^ACK" if trigger else "ACK",
                uuid.uuid4().hex[:20].upper(),
                at(11) or "P",
                "2.5.1",
                "",
                "",
                "",
                "",
                "",
                "UNICODE UTF-8",
            ]
        ),
        "|".join(["MSA", code, at(10), escape(text[:80] if code == "AA" else text[:500])]),
    ]
    if code in ("AE", "AR"):
        # ERR-3 207 "application internal error", ERR-4 severity E, ERR-8 the words.
        segments.append(
            "|".join(
                [
                    "ERR",
                    "",
                    "",
                    "207^Application internal error^HL70357",
                    "E",
                    "",
                    "",
                    "",
                    escape(text[:500]),
                ]
            )
        )
    return "\r".join(segments) + "\r"


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    on_message: Callable | None = None,
    *,
    tls: tuple[str, str] | None = None,
) -> Listener:
    """Start a listener on ``host:port`` (0: a free port, read ``.port``); ``tls``:
    (certificate file, key file) to listen with TLS."""
    return Listener(host, port, on_message, tls=tls)


STATUS_WORDS = {"P": "preliminary", "F": "final", "C": "corrected"}


def _components(value: str) -> list[str]:
    return [unescape(part) for part in value.split("^")]


def _when(value: str) -> str:
    """An HL7 TS as ``2026-12-01 12:00 +0000`` (a date alone as ``2026-12-01``)."""
    if len(value) >= 8 and value[:8].isdigit():
        day = f"{value[:4]}-{value[4:6]}-{value[6:8]}"
        if len(value) >= 12:
            return f"{day} {value[8:10]}:{value[10:12]} {value[14:] if len(value) > 14 else ''}"
        return day
    return value


def readable(received: Received, *, raw: bool = False) -> str:
    """The message as a person reads it: who, which exam, the result status, then each
    observation by its name (the PDF by its size); ``raw`` adds the segments as sent."""
    r = received
    sender = _components(r.field("MSH", 3))[0]
    facility = _components(r.field("MSH", 4))[0]
    lines = [
        f"— {r.at:%Y-%m-%d %H:%M:%S} UTC · message {r.control_id} from {sender}"
        + (f" ({facility})" if facility else "")
        + f" · {_components(r.field('MSH', 9))[0] or '?'}"
        + f" · answered {r.answer}"
        + (f": {r.error}" if r.error else "")
    ]
    if r.all("PID"):
        name = _components(r.field("PID", 5))
        ident = _components(r.field("PID", 3))
        parts = [", ".join(p for p in name[:2] if p) or "(no name)", f"ID {ident[0]}"]
        if r.field("PID", 7):
            parts.append(f"born {_when(r.field('PID', 7))}")
        if r.field("PID", 8):
            parts.append(f"sex {r.field('PID', 8)}")
        lines.append("  Patient   " + " · ".join(parts))
    if r.all("OBR"):
        service = _components(r.field("OBR", 4))
        status = r.field("OBR", 25)
        parts = [service[1] if len(service) > 1 and service[1] else service[0]]
        accession = _components(r.field("OBR", 2))[0] or _components(r.field("OBR", 3))[0]
        if accession:
            parts.append(f"order {accession}")
        if r.field("OBR", 7):
            parts.append(f"observed {_when(r.field('OBR', 7))}")
        parts.append(f"result {STATUS_WORDS.get(status, status or '?')} ({status})")
        lines.append("  Exam      " + " · ".join(parts))
        interpreter = [unescape(p) for p in r.field("OBR", 32).split("&")]
        if len(interpreter) > 1:
            lines.append("  Signed by " + " ".join(p for p in interpreter[2:0:-1] if p))
    for segment in r.all("OBX"):
        value_type = segment[2] if len(segment) > 2 else ""
        code = _components(segment[3]) if len(segment) > 3 else [""]
        label = code[1] if len(code) > 1 and code[1] else code[0]
        if len(segment) > 4 and segment[4]:
            label += f" {unescape(segment[4])}"
        value = segment[5] if len(segment) > 5 else ""
        if value_type == "ED":
            data = value.rsplit("^", 1)[-1]
            size = len(data) * 3 // 4 - data[-2:].count("=")
            shown = f"{_components(value)[2] or 'data'}, {size:,} bytes (Base64)"
        elif value_type in ("CE", "CWE"):
            shown = ", ".join(
                (c[1] if len(c) > 1 and c[1] else c[0]) for c in map(_components, value.split("~"))
            )
        else:
            shown = unescape(value)
            units = _components(segment[6])[0] if len(segment) > 6 and segment[6] else ""
            if units:
                shown += f" {units}"
        head = f"  {label} ({value_type}): "
        lines.append(head + shown.replace("\n", "\n" + " " * len(head)))
    if raw or not (r.all("PID") or r.all("OBX")):
        lines += ["  " + line for line in r.raw.split("\r") if line]
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
