"""What each answer of a C-STORE receiver becomes, against a real DICOM listener
(pynetdicom's storage SCP, started by the test): warning and failure statuses, a SOP
class the receiver does not take, and TLS (a trusted and an untrusted certificate)."""

from __future__ import annotations

import io
import ssl

import pytest
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import UltrasoundImageStorage, Verification

from integrations.dicom import cstore
from portal.outbound import planning
from portal.outbound.kinds import DeliveryFailed
from portal.outbound.models import Destination, Transmission
from tests.dicom.conftest import send_due
from tests.factories import add_stored_capture, make_exam
from tests.tls import self_signed

pytestmark = pytest.mark.django_db


class Listener:
    """A storage SCP answering ``status`` to every C-STORE; ``contexts`` what it takes."""

    def __init__(self, status=0x0000, contexts=(UltrasoundImageStorage,), tls=None):
        self.status = status
        self.received = []
        ae = AE(ae_title="LISTENER")
        for context in (*contexts, Verification):
            ae.add_supported_context(context, [ExplicitVRLittleEndian])

        def on_store(event):
            self.received.append(event.dataset.SOPInstanceUID)
            return self.status

        self.server = ae.start_server(
            ("127.0.0.1", 0),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, on_store)],
            ssl_context=tls,
        )
        self.port = self.server.server_address[1]

    def destination(self, institution, **options) -> Destination:
        return Destination.objects.create(
            institution=institution,
            name="Listener",
            kind="dicom",
            options={"host": "127.0.0.1", "port": self.port, "called_ae": "LISTENER", **options},
        )

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def listen():
    started = []

    def start(**kwargs) -> Listener:
        started.append(Listener(**kwargs))
        return started[-1]

    yield start
    for listener in started:
        listener.stop()


def one_image_exam(institution, operator):
    """An exam of one PNG capture (sent as explicit little endian), planned."""
    exam = make_exam(institution, operator, captures=0)
    buffer = io.BytesIO()
    Image.new("L", (32, 24), 90).save(buffer, "PNG")
    add_stored_capture(exam, "image/png", buffer.getvalue(), width=32, height=24)
    planning.plan_exam(exam)
    return exam


def outcome(exam) -> tuple[str, Transmission]:
    (result,) = send_due(exam)
    return result, Transmission.objects.get(exam=exam)


@pytest.mark.parametrize(
    ("status", "expected", "words"),
    [
        (0xB000, "sent", "C-STORE status 0xB000 (Coercion of Data Elements)"),
        (0xB007, "sent", "C-STORE status 0xB007 (Data Set Does Not Match SOP Class)"),
        (0xA700, "retry", "C-STORE status 0xA700 (Refused: Out of Resources)"),
        (0x0110, "retry", "C-STORE status 0x0110 (Processing Failure)"),
        (0xA900, "failed", "C-STORE status 0xA900 (Data Set Does Not Match SOP Class)"),
        (0xC123, "failed", "C-STORE status 0xC123 (Cannot Understand)"),
    ],
)
def test_statuses(northside, trio, media_root, listen, status, expected, words):
    listener = listen(status=status)
    listener.destination(northside)
    exam = one_image_exam(northside, trio[1])
    result, row = outcome(exam)
    assert result == expected
    assert words in (row.remote_answer if expected == "sent" else row.last_error)
    assert len(listener.received) == 1


def test_a_sop_class_the_receiver_does_not_take_fails(northside, trio, media_root, listen):
    listener = listen(contexts=())  # Verification only
    listener.destination(northside)
    exam = one_image_exam(northside, trio[1])
    result, row = outcome(exam)
    assert result == "failed"
    assert "does not accept Ultrasound Image Storage in Explicit VR Little Endian" in (
        row.last_error
    )
    assert listener.received == []


def test_tls(northside, trio, media_root, listen, tmp_path, monkeypatch):
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    listener = listen(tls=context)

    # A certificate the machine does not trust: the connection fails, and says so.
    untrusted = listener.destination(northside, tls=True)
    with pytest.raises(DeliveryFailed) as failed:
        cstore.echo(untrusted)
    assert "TLS failed" in str(failed.value) and "CERTIFICATE_VERIFY_FAILED" in str(failed.value)
    assert not failed.value.permanent

    # Trusted (as a hospital's machines trust their PACS's CA): echo and store over TLS.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    assert cstore.echo(untrusted).startswith("C-ECHO answered (status 0x0000) by LISTENER@")
    exam = one_image_exam(northside, trio[1])
    result, row = outcome(exam)
    assert result == "sent", row.last_error
    assert len(listener.received) == 1
    # Without TLS, a TLS listener does not complete the association.
    with pytest.raises(DeliveryFailed):
        cstore.echo(listener.destination(northside))
