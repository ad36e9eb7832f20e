"""Report versions to an EHR as HL7 v2.5.1 ORU^R01 over MLLP, against a real listener
that parses each message strictly (hl7apy) and answers as scripted."""

from __future__ import annotations

import base64

import pytest
from django.utils import timezone

from integrations.hl7 import message as hl7_message
from integrations.hl7 import mllp
from integrations.hl7.listener import readable, serve
from integrations.hl7.message import unescape
from portal import storage
from portal.outbound import kinds
from portal.outbound.models import Transmission
from portal.outbound.sending import send_transmission
from portal.reports.review import add_addendum, attest_findings
from portal.tenants.models import Membership
from portal.worksheets.models import ExamType, WorksheetTemplate
from tests.factories import make_exam
from tests.hl7.conftest import deliver, quickly_built, transmissions
from tests.reports.conftest import sign
from tests.tls import self_signed

HOSTILE = "O'Brien|Smith^Jr~II\\E\\&Co Ωμέγα 李 عربي"


def obx(received, code):
    """The OBX segments whose observation identifier (OBX-3) starts with ``code``."""
    return [s for s in received.all("OBX") if s[3].split("^")[0] == code]


def signed_exam(northside, bob, **patient):
    exam = make_exam(northside, bob, patient_name="Nora North", captures=1)
    if patient:
        for name, value in patient.items():
            setattr(exam.patient, name, value)
        exam.patient.save()
    return exam


def test_a_signed_report_arrives_as_a_final_oru_that_parses_strictly(ehr, listener, northside, bob):
    exam = signed_exam(
        northside,
        bob,
        identifier="MRN-77",
        date_of_birth=timezone.datetime(1970, 3, 4).date(),
        gender="female",
        extra={"accession_number": "ACC-1001"},
    )
    report = sign(exam, bob)
    row = deliver(report)

    assert row.state == Transmission.State.SENT, row.last_error
    assert row.remote_answer.startswith("AA")
    (received,) = listener.received
    assert received.answer == "AA" and received.parsed is not None
    assert received.parsed.name == "ORU_R01"
    assert row.uid == received.control_id and len(row.uid) <= 20
    msh = received.parsed.msh
    assert msh.msh_3.to_er7() == "CLARIUSPORTAL"
    assert msh.msh_4.to_er7() == "Northside Clinic"
    assert (msh.msh_5.to_er7(), msh.msh_6.to_er7()) == ("EPIC", "NORTHSIDE")
    assert msh.msh_9.to_er7() == "ORU^R01^ORU_R01"
    assert msh.msh_12.to_er7() == "2.5.1"
    assert msh.msh_18.to_er7() == "UNICODE UTF-8"
    assert received.field("PID", 3) == "MRN-77^^^^MR"
    assert received.field("PID", 5) == "North^Nora^"
    assert (received.field("PID", 7), received.field("PID", 8)) == ("19700304", "F")
    assert received.field("PV1", 2) == "U"
    assert received.field("ORC", 1) == "RE"
    assert received.field("OBR", 2).split("^")[0] == "ACC-1001"
    assert received.field("OBR", 3).split("^")[0] == "ACC-1001"
    assert received.field("OBR", 4) == "lung^Lung / thoracic^L"
    assert received.field("OBR", 7).startswith(
        timezone.localtime(exam.first_submitted_at).strftime("%Y")
    )
    assert received.field("OBR", 25) == "F"
    assert received.field("OBR", 32).split("&")[1:] == ["Reviewer", "Bob"]
    # The interpretation, line breaks kept as \.br\ in FT.
    (findings,) = obx(received, hl7_message.FINDINGS[0])
    assert findings[2] == "FT" and "\\.br\\" in findings[5]
    assert unescape(findings[5]) == (
        "Multiple mobile echogenic foci with posterior shadowing.\nNo wall thickening."
    )
    assert unescape(obx(received, hl7_message.IMPRESSION[0])[0][5]) == (
        "Cholelithiasis without cholecystitis."
    )
    assert obx(received, hl7_message.INDICATION[0])
    # Structured answers: choices as CE, yes/no as HL7 table 0136.
    (sliding,) = obx(received, "right_sliding")
    assert sliding[2] == "CE" and sliding[5] == "present^Present^L"
    (lung_point,) = obx(received, "right_lung_point")
    assert lung_point[5] == "N^No^HL70136"
    assert all(s[11] == "F" for s in received.all("OBX"))
    # The PDF, byte for byte.
    (pdf,) = obx(received, hl7_message.PDF[0])
    assert pdf[2] == "ED"
    _, kind, subtype, encoding, data = pdf[5].split("^")
    assert (kind, subtype, encoding) == ("AP", "PDF", "Base64")
    report.refresh_from_db()
    assert base64.b64decode(data) == storage.local_file(report.file).read_bytes()
    ehr.refresh_from_db()
    assert ehr.last_success_at is not None and ehr.failing_since is None
    shown = readable(received)
    assert "Patient   North, Nora · ID MRN-77 · born 1970-03-04 · sex F" in shown
    assert "Signed by Bob Reviewer" in shown
    assert "Lung sliding (CE): Present" in shown
    assert f"Diagnostic imaging study (ED): PDF, {report.size:,} bytes" in shown


def test_delimiters_and_non_latin_text_round_trip_exactly(ehr, listener, northside, bob):
    exam = signed_exam(
        northside,
        bob,
        identifier="ID|^~\\&1",
        first_name="Ωμέγα 李",
        last_name=HOSTILE,
        extra={"accession_number": "A^B&C|D"},
    )
    findings_text = f"Line one {HOSTILE}\nLine two \\.br\\ typed literally \\F\\ \\X41\\"
    report = quickly_built(
        sign(exam, bob, build=False, findings=findings_text, impression="عربي | 李 ^ Ωμέγα & ~")
    )
    row = deliver(report)

    assert row.state == Transmission.State.SENT, row.last_error
    (received,) = listener.received
    assert received.answer == "AA", received.error
    pid3 = received.field("PID", 3).split("^")
    assert unescape(pid3[0]) == "ID|^~\\&1"
    family, given, _ = received.field("PID", 5).split("^")
    assert (unescape(family), unescape(given)) == (HOSTILE, "Ωμέγα 李")
    assert unescape(received.field("OBR", 2).split("^")[0]) == "A^B&C|D"
    assert unescape(obx(received, hl7_message.FINDINGS[0])[0][5]) == findings_text
    assert unescape(obx(received, hl7_message.IMPRESSION[0])[0][5]) == "عربي | 李 ^ Ωμέγα & ~"
    # hl7apy read the same patient name (its components, still escaped as sent).
    xpn = received.parsed.oru_r01_patient_result.oru_r01_patient.pid.pid_5
    assert unescape(xpn.xpn_1.to_er7()) == HOSTILE


def test_long_findings_go_whole_and_long_names_are_cut_to_the_standard(
    ehr, listener, northside, bob
):
    long_name = "Ω|" * 100  # 200 characters, 300 once escaped
    exam = signed_exam(northside, bob, last_name=long_name)
    findings_text = ("A long paragraph with | and ^ and Ωμέγα. " * 120).strip()
    report = quickly_built(sign(exam, bob, build=False, findings=findings_text))
    row = deliver(report)

    assert row.state == Transmission.State.SENT, row.last_error
    received = listener.received[-1]
    assert unescape(obx(received, hl7_message.FINDINGS[0])[0][5]) == findings_text
    family = received.field("PID", 5).split("^")[0]
    assert len(family) <= 199 and long_name.startswith(unescape(family))


def test_preliminary_then_final_after_attestation(ehr, listener, northside, bob, alice):
    northside.hold_trainee_reports = False
    northside.save(update_fields=["hold_trainee_reports"])
    Membership.objects.filter(user=bob, institution=northside).update(is_trainee=True)
    exam = signed_exam(northside, bob)
    preliminary = quickly_built(sign(exam, bob, build=False))
    row = deliver(preliminary)
    assert row.result_status == "P" and row.state == Transmission.State.SENT, row.last_error
    assert listener.received[-1].field("OBR", 25) == "P"
    assert {s[11] for s in listener.received[-1].all("OBX")} == {"P"}

    findings = exam.findings
    findings.refresh_from_db()
    final = quickly_built(attest_findings(findings, alice))
    row = deliver(final)
    assert row.state == Transmission.State.SENT, row.last_error
    received = listener.received[-1]
    # An attested result: F (the receiver holds only a preliminary one), the attending
    # the principal interpreter and the trainee the assistant.
    assert received.field("OBR", 25) == "F"
    assert "Alice" in received.field("OBR", 32) and "Bob" in received.field("OBR", 33)
    assert received.control_id != listener.received[0].control_id


def test_an_addendum_goes_as_a_corrected_result_with_its_text(ehr, listener, northside, bob):
    exam = signed_exam(northside, bob)
    deliver(quickly_built(sign(exam, bob, build=False)))
    _, version = add_addendum(exam, bob, "Also: a small | effusion ^ on the right.\nRe-scan.")
    row = deliver(quickly_built(version))

    assert row.result_status == "C" and row.state == Transmission.State.SENT, row.last_error
    received = listener.received[-1]
    assert received.answer == "AA", received.error
    assert received.field("OBR", 25) == "C"
    (addendum,) = obx(received, hl7_message.ADDENDUM[0])
    assert addendum[4] == "1"
    assert unescape(addendum[5]) == "Also: a small | effusion ^ on the right.\nRe-scan."


def test_include_pdf_off_sends_no_encapsulated_pdf(ehr, listener, northside, bob):
    ehr.options = {**ehr.options, "include_pdf": False}
    ehr.save(update_fields=["options"])
    row = deliver(quickly_built(sign(signed_exam(northside, bob), bob, build=False)))
    assert row.state == Transmission.State.SENT, row.last_error
    received = listener.received[-1]
    assert not [s for s in received.all("OBX") if s[2] == "ED"]
    assert obx(received, hl7_message.FINDINGS[0])


def test_numbers_go_as_nm_with_units_and_text_as_st(ehr, listener, northside, bob):
    exam = signed_exam(northside, bob)
    report = quickly_built(sign(exam, bob, build=False))
    exam_type = ExamType.objects.create(
        institution=northside, code="aorta_test", name="Aorta (test)"
    )
    template = WorksheetTemplate.objects.create(
        institution=northside,
        exam_type=exam_type,
        version=1,
        definition={
            "sections": [
                {
                    "code": "aorta",
                    "title": "Aorta",
                    "fields": [
                        {
                            "code": "diameter",
                            "label": "Diameter",
                            "type": "number",
                            "unit": "cm",
                            "min": 0,
                            "max": 15,
                        },  # noqa: E501
                        {"code": "note", "label": "Note", "type": "text"},
                        {"code": "long_note", "label": "Long note", "type": "text"},
                    ],
                }
            ]
        },
    )
    findings = exam.findings
    findings.template = template
    findings.answers = {"diameter": 3.2, "note": "Calcified | wall", "long_note": "a\nb"}
    findings.save(update_fields=["template", "answers"])
    row = deliver(report)

    assert row.state == Transmission.State.SENT, row.last_error
    received = listener.received[-1]
    (diameter,) = obx(received, "diameter")
    assert (diameter[2], diameter[5], diameter[6]) == ("NM", "3.2", "cm^cm")
    (note,) = obx(received, "note")
    assert (note[2], unescape(note[5])) == ("ST", "Calcified | wall")
    (long_note,) = obx(received, "long_note")
    assert (long_note[2], unescape(long_note[5])) == ("FT", "a\nb")


def test_an_error_ack_is_retried_and_the_next_aa_delivers(ehr, listener, northside, bob):
    listener.answers = ["AE"]
    report = quickly_built(sign(signed_exam(northside, bob), bob, build=False))
    (row,) = transmissions(report)
    send_transmission(row.pk)
    row.refresh_from_db()
    assert row.state == Transmission.State.PENDING
    assert row.attempts == 1 and row.next_attempt_at > timezone.now()
    assert "AE" in row.last_error and "refuse" in row.last_error
    first_id = row.uid
    ehr.refresh_from_db()
    assert ehr.failing_since is not None

    Transmission.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    send_transmission(row.pk)
    row.refresh_from_db()
    assert row.state == Transmission.State.SENT, row.last_error
    assert row.remote_answer.startswith("AA")
    # The same message, the same control ID: a receiver can tell a retry from a new result.
    assert [r.control_id for r in listener.received] == [first_id, first_id]
    assert [r.answer for r in listener.received] == ["AE", "AA"]
    ehr.refresh_from_db()
    assert ehr.failing_since is None


def test_a_listener_that_never_acknowledges_leaves_the_row_pending(
    ehr, listener, northside, bob, monkeypatch
):
    monkeypatch.setattr(mllp, "TIMEOUT_SECONDS", 1.0)
    listener.answers = ["none"]
    report = quickly_built(sign(signed_exam(northside, bob), bob, build=False))
    (row,) = transmissions(report)
    send_transmission(row.pk)
    row.refresh_from_db()
    assert row.state == Transmission.State.PENDING
    assert "no acknowledgement within 1 s" in row.last_error
    assert listener.arrived.wait(10)
    assert len(listener.received) == 1  # it did arrive; only the ACK is missing

    listener.release.set()
    monkeypatch.setattr(mllp, "TIMEOUT_SECONDS", 10.0)
    Transmission.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    send_transmission(row.pk)
    row.refresh_from_db()
    assert row.state == Transmission.State.SENT, row.last_error


def test_nothing_listening_is_a_transient_failure(ehr, northside, bob, listener):
    port = listener.port
    listener.stop()
    report = quickly_built(sign(signed_exam(northside, bob), bob, build=False))
    (row,) = transmissions(report)
    send_transmission(row.pk)
    row.refresh_from_db()
    assert row.state == Transmission.State.PENDING
    assert f"127.0.0.1:{port} refused the connection" in row.last_error


def test_the_kind_is_registered_and_its_test_is_a_round_trip(ehr, listener):
    kind = kinds.get("hl7")
    assert kind.label == "HL7 v2 results (MLLP)" and kind.carries == kinds.REPORT
    assert [o.name for o in kind.options] == [
        "host",
        "port",
        "receiving_app",
        "receiving_facility",
        "sending_app",
        "sending_facility",
        "tls",
        "include_pdf",
    ]
    assert kind.describe(ehr) == f"127.0.0.1:{listener.port} (EPIC/NORTHSIDE)"
    answer = kind.test(ehr)
    assert answer.startswith("ACK AA in ") and answer.endswith(" ms")
    (received,) = listener.received
    assert received.answer == "AA" and received.field("MSH", 11) == "T"

    listener.answers = ["AR"]
    with pytest.raises(kinds.DeliveryFailed, match="rejected"):
        kind.test(ehr)


def test_a_report_for_another_institution_is_not_sent_here(ehr, listener, southside, charlie):
    exam = make_exam(southside, charlie)
    assert not Transmission.objects.filter(exam=exam).exists()
    assert listener.received == []


def test_tls_checks_the_receivers_certificate(ehr, northside, bob, tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    server = serve("127.0.0.1", 0, tls=(cert, key))
    try:
        ehr.options = {**ehr.options, "host": "localhost", "port": server.port, "tls": True}
        ehr.save(update_fields=["options"])
        report = quickly_built(sign(signed_exam(northside, bob), bob, build=False))
        (row,) = transmissions(report)
        # Not signed by a certificate authority the system trusts: refused, retried.
        send_transmission(row.pk)
        row.refresh_from_db()
        assert row.state == Transmission.State.PENDING
        assert "TLS with localhost:" in row.last_error and "CERTIFICATE" in row.last_error.upper()
        assert server.received == []

        # Trusted (as an institution's CA would be, in the system's store): delivered.
        monkeypatch.setenv("SSL_CERT_FILE", cert)
        Transmission.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        send_transmission(row.pk)
        row.refresh_from_db()
        assert row.state == Transmission.State.SENT, row.last_error
        (received,) = server.received
        assert received.answer == "AA" and received.control_id == row.uid
    finally:
        server.stop()
