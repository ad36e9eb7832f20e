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
    def __init__(self, host: str, port: int, on_message: Callable | None = None):
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
        self.server.daemon_threads = True
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


def serve(host: str = "127.0.0.1", port: int = 0, on_message: Callable | None = None) -> Listener:
    """Start a listener on ``host:port`` (0: a free port, read ``.port``)."""
    return Listener(host, port, on_message)


def readable(received: Received) -> str:
    """The message as a person reads it: each segment's fields, unescaped, numbered; the
    PDF shown by its size."""
    lines = [
        f"— {received.at:%Y-%m-%d %H:%M:%S} UTC, message {received.control_id}, "
        f"answered {received.answer}" + (f" ({received.error})" if received.error else "")
    ]
    for segment in received.segments:
        name = segment[0]
        offset = 1 if name == "MSH" else 0
        shown = []
        for index, value in enumerate(segment[1:], start=1):
            if not value or (name == "MSH" and index == 1):
                continue
            if name == "OBX" and index == 5 and "^Base64^" in value:
                data = value.rsplit("^", 1)[-1]
                value = f"[PDF, {len(data) * 3 // 4:,} bytes in Base64]"
            else:
                value = unescape(value.replace("^", " ^ ").replace("~", " ~ "))
                value = value.replace("\n", "\n        ")
            shown.append(f"{name}-{index + offset}: {value}")
        lines.append(f"  {name}  " + ("\n       ".join(shown) if shown else ""))
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
