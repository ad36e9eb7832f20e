"""Sending DICOM objects to a PACS by C-STORE (pynetdicom), and the C-ECHO test.

One association per object: the presentation context offered is the object's own SOP
class in its own transfer syntax (JPEG Baseline, H.264, explicit little endian...), so
nothing is re-encoded on the way. What can go wrong is told apart, because a person acts
differently on each:

- the PACS cannot be reached (connection refused, timed out, TLS failed): retried;
- the PACS rejects the association (a wrong called or calling AE title): permanent,
  since retrying the same titles cannot help; a transient rejection is retried;
- the PACS accepts the association but not the object's SOP class or transfer syntax:
  permanent;
- the C-STORE answers a failure status: the status and its meaning; out of resources
  and processing failures are retried, the rest are permanent.

Warnings (0xB000 coercion, 0xB006 element discarded, 0xB007 data set does not match SOP
class) mean the PACS stored the object: it counts as sent, the warning kept in the answer.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time

from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification
from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS, VERIFICATION_SERVICE_CLASS_STATUS

from portal.outbound.kinds import DeliveryFailed

DEFAULT_PORT = 104
DEFAULT_CALLING_AE = "CLARIUSPORTAL"
CONNECT_TIMEOUT = 10.0  # seconds to open the TCP connection
ACSE_TIMEOUT = 30.0  # ... for the PACS to accept or reject the association
DIMSE_TIMEOUT = 120.0  # ... for the C-STORE response (a long clip takes a while to store)
NETWORK_TIMEOUT = 60.0  # ... of silence on an open connection

# Failure statuses a later attempt may get past (the PACS was full or busy).
TRANSIENT_STATUSES = frozenset({0x0110, 0x0213, *range(0xA700, 0xA800)})
WARNING_STATUSES = frozenset({0xB000, 0xB006, 0xB007, 0x0107, 0x0116})


def check_ae_title(value) -> str:
    """An AE title as the destination form and command should store it, or ValueError.

    DICOM (PS3.5 6.2, AE): at most 16 characters of the default repertoire, no
    backslash, no control characters, not only spaces; leading and trailing spaces are
    not significant and are dropped.
    """
    title = str(value or "").strip(" ")
    if not title:
        raise ValueError("An AE title cannot be empty.")
    if len(title) > 16:
        raise ValueError(f"An AE title has at most 16 characters ({len(title)} given).")
    if "\\" in title:
        raise ValueError("An AE title cannot contain a backslash.")
    if any(ord(c) < 0x20 or ord(c) > 0x7E for c in title):
        raise ValueError("An AE title may only use plain letters, digits, spaces and punctuation.")
    return title


def check_port(value) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ValueError("The port must be a number.") from None
    if not 1 <= port <= 65535:
        raise ValueError("The port must be between 1 and 65535.")
    return port


def describe(destination) -> str:
    """``PACS@pacs.example.org:104`` (and ``, TLS``)."""
    called = destination.option("called_ae") or "?"
    host = destination.option("host") or "?"
    port = destination.option("port", DEFAULT_PORT)
    if ":" in str(host):  # an IPv6 address
        host = f"[{host}]"
    return f"{called}@{host}:{port}" + (" (TLS)" if destination.option("tls") else "")


class _Target:
    """A destination's settings, read once and checked."""

    def __init__(self, destination):
        self.host = str(destination.option("host") or "").strip()
        if not self.host:
            raise DeliveryFailed("The destination has no host.", permanent=True)
        try:
            self.port = check_port(destination.option("port", DEFAULT_PORT))
            self.called = check_ae_title(destination.option("called_ae"))
            self.calling = check_ae_title(destination.option("calling_ae") or DEFAULT_CALLING_AE)
        except ValueError as e:
            raise DeliveryFailed(str(e), permanent=True) from None
        self.tls = bool(destination.option("tls"))
        self.where = f"{self.called}@{self.host}:{self.port}"

    def ae(self) -> AE:
        ae = AE(ae_title=self.calling)
        ae.connection_timeout = CONNECT_TIMEOUT
        ae.acse_timeout = ACSE_TIMEOUT
        ae.dimse_timeout = DIMSE_TIMEOUT
        ae.network_timeout = NETWORK_TIMEOUT
        return ae

    def tls_args(self):
        if not self.tls:
            return None
        # The system's certificate authorities, the host name checked: a PACS on TLS
        # has a certificate its hospital's machines trust.
        return (ssl.create_default_context(ssl.Purpose.SERVER_AUTH), self.host)

    def associate(self, ae: AE):
        connected = []

        def opened(event):
            connected.append(True)
            # pynetdicom writes each PDU in pieces; with Nagle's algorithm on, every
            # small write after the first waits for the peer's delayed ACK (~40 ms on
            # Linux), which doubled the time of a C-STORE on loopback.
            with contextlib.suppress(AttributeError, OSError):
                raw = event.assoc.dul.socket.socket
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        handlers = [(evt.EVT_CONN_OPEN, opened)]
        assoc = ae.associate(
            self.host,
            self.port,
            ae_title=self.called,
            tls_args=self.tls_args(),
            evt_handlers=handlers,
        )
        if assoc.is_established:
            return assoc
        if assoc.is_rejected:
            raise _rejection(assoc, self.where)
        if not connected:
            raise DeliveryFailed(
                f"Could not connect to the PACS at {self.host}:{self.port}: {self.unreachable()}."
            )
        if not assoc.accepted_contexts and assoc.rejected_contexts:
            raise _contexts_refused(assoc, self.where)
        raise DeliveryFailed(
            f"The PACS {self.where} aborted the association or did not answer it "
            f"within {ACSE_TIMEOUT:.0f} s."
        )

    def unreachable(self) -> str:
        """Why a TCP connection fails, in words (pynetdicom only logs it)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT) as s:
                if self.tls:
                    self.tls_args()[0].wrap_socket(s, server_hostname=self.host).close()
        except ConnectionRefusedError:
            return "connection refused (is the PACS running, and is this its DICOM port?)"
        except TimeoutError:
            return f"no answer within {CONNECT_TIMEOUT:.0f} s"
        except socket.gaierror:
            return f"the host name {self.host!r} is not known"
        except ssl.SSLError as e:
            return f"TLS failed ({e.reason or e})"
        except OSError as e:
            return e.strerror or str(e)
        return "the connection failed"


def _rejection(assoc, where: str) -> DeliveryFailed:
    primitive = assoc.acceptor.primitive
    reason = primitive.reason_str if primitive is not None else "no reason given"
    permanent = primitive is None or primitive.result == 0x01
    hint = ""
    if primitive is not None and primitive.result_source == 1:
        if primitive.diagnostic == 7:
            hint = " (check the called AE title: it must be the PACS's own)"
        elif primitive.diagnostic == 3:
            hint = " (check the calling AE title: the PACS must know it)"
    return DeliveryFailed(
        f"The PACS {where} rejected the association: {reason[:1].lower()}{reason[1:]}{hint}"
        + ("" if permanent else "; it will be tried again")
        + ".",
        permanent=permanent,
    )


def _contexts_refused(assoc, where: str) -> DeliveryFailed:
    refused = ", ".join(
        f"{UID(cx.abstract_syntax).name} in {UID(cx.transfer_syntax[0]).name}"
        for cx in assoc.rejected_contexts
        if cx.transfer_syntax
    )
    return DeliveryFailed(
        f"The PACS {where} does not accept {refused or 'this kind of object'}.",
        permanent=True,
    )


def status_words(code: int, table=STORAGE_SERVICE_CLASS_STATUS) -> str:
    meaning = table.get(code, ("", ""))[1]
    return f"0x{code:04X}" + (f" ({meaning})" if meaning else "")


def store(dataset, destination) -> str:
    """C-STORE one dataset; the PACS's answer in a line, or DeliveryFailed."""
    target = _Target(destination)
    sop_class = dataset.SOPClassUID
    meta = getattr(dataset, "file_meta", None)
    syntax = UID(getattr(meta, "TransferSyntaxUID", None) or ExplicitVRLittleEndian)
    syntaxes = [syntax]
    if not syntax.is_compressed:  # an uncompressed object can go either way
        syntaxes = list(dict.fromkeys([syntax, ExplicitVRLittleEndian, ImplicitVRLittleEndian]))
    ae = target.ae()
    ae.add_requested_context(sop_class, syntaxes)
    assoc = target.associate(ae)
    try:
        if not assoc.accepted_contexts:
            raise _contexts_refused(assoc, target.where)
        try:
            status = assoc.send_c_store(dataset)
        except ValueError as e:  # pynetdicom: no accepted context for the dataset
            raise DeliveryFailed(
                f"The PACS {target.where} accepted no context for "
                f"{UID(sop_class).name} in {syntax.name}: {e}",
                permanent=True,
            ) from None
    finally:
        if assoc.is_established:
            assoc.release()
    code = getattr(status, "Status", None)
    if code is None:
        raise DeliveryFailed(
            f"The PACS {target.where} did not answer the C-STORE within {DIMSE_TIMEOUT:.0f} s "
            "or the connection was lost."
        )
    if code == 0x0000 or code in WARNING_STATUSES:
        comment = str(getattr(status, "ErrorComment", "") or "").strip()
        return f"C-STORE status {status_words(code)}" + (f": {comment}" if comment else "")
    comment = str(getattr(status, "ErrorComment", "") or "").strip()
    raise DeliveryFailed(
        f"The PACS {target.where} refused the object: C-STORE status {status_words(code)}"
        + (f": {comment}" if comment else "")
        + ".",
        permanent=code not in TRANSIENT_STATUSES,
    )


def send(transmission) -> str:
    """The ``dicom`` kind's send: build the object, C-STORE it."""
    from integrations.dicom import objects

    dataset = objects.build(transmission)
    return store(dataset, transmission.destination)


def echo(destination) -> str:
    """The ``dicom`` kind's test: a C-ECHO."""
    target = _Target(destination)
    ae = target.ae()
    ae.add_requested_context(Verification)
    started = time.monotonic()
    assoc = target.associate(ae)
    try:
        status = assoc.send_c_echo()
    finally:
        if assoc.is_established:
            assoc.release()
    took = (time.monotonic() - started) * 1000
    code = getattr(status, "Status", None)
    if code is None:
        raise DeliveryFailed(f"The PACS {target.where} did not answer the C-ECHO.")
    if code != 0x0000:
        raise DeliveryFailed(
            f"The PACS {target.where} answered the C-ECHO with status "
            f"{status_words(code, VERIFICATION_SERVICE_CLASS_STATUS)}."
        )
    return f"C-ECHO answered (status 0x0000) by {target.where} in {took:.0f} ms"
