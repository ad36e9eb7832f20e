"""``manage.py hl7_listen``: prints each message as it arrives, readably."""

import io
import threading

from django.core.management import call_command

from integrations.hl7 import listener as hl7_listener
from integrations.hl7 import mllp


def test_the_listen_command_prints_what_arrives_and_acknowledges_it():
    port = hl7_listener.free_port()
    out = io.StringIO()
    thread = threading.Thread(
        target=call_command,
        args=("hl7_listen", "--port", str(port), "--count", "1"),
        kwargs={"stdout": out},
    )
    thread.start()
    text = (
        "MSH|^~\\&|CLARIUSPORTAL|Demo Clinic|EHR|HOSP|20261201120000+0000||ORU^R01^ORU_R01|"
        "MSG1|P|2.5.1||||||UNICODE UTF-8\r"
        "PID|1||MRN-1^^^^MR||Smith \\T\\ Sons^Ωμέγα\r"
        "OBR|1||ACC-9^CLARIUSPORTAL|lung^Lung / thoracic^L|||20261201120000+0000" + "|" * 18 + "F\r"
        "OBX|1|FT|19005-8^Impression^LN||No effusion.\\.br\\No pneumothorax.||||||F\r"
    )
    for _ in range(50):  # the command starts its listener on its own thread
        try:
            ack = mllp.send(text, "127.0.0.1", port, timeout=5)
            break
        except mllp.DeliveryFailed:
            threading.Event().wait(0.1)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert (ack.code, ack.control_id) == ("AA", "MSG1")
    printed = out.getvalue()
    print(printed)
    assert f"Listening for HL7 over MLLP on 127.0.0.1:{port}" in printed
    assert "message MSG1 from CLARIUSPORTAL (Demo Clinic) · ORU · answered AA" in printed
    assert "Patient   Smith & Sons, Ωμέγα · ID MRN-1" in printed
    assert "Exam      Lung / thoracic · order ACC-9" in printed
    assert "result final (F)" in printed
    assert "Impression (FT): No effusion.\n" in printed and "No pneumothorax." in printed
