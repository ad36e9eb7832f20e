"""The "fhir" destination against a real HTTP server (tests/fhir/server.py): each report
version POSTed as a transaction, bearer token or OAuth2 client credentials, the answers
a FHIR server gives (success, an OperationOutcome, a 5xx then success, a token that
expired), and the metadata test."""

from __future__ import annotations

import base64
import json

import pytest
from django.utils import timezone

from integrations.fhir import bundle, destination
from portal import storage
from portal.outbound import kinds, uids
from portal.outbound.models import Destination, Transmission
from portal.outbound.sending import resend, send_transmission
from portal.reports.review import add_addendum
from tests.fhir.server import FhirServer
from tests.reports.conftest import built, sign


@pytest.fixture
def server():
    fhir = FhirServer(static_token="static-token")
    try:
        yield fhir
    finally:
        fhir.close()


@pytest.fixture(autouse=True)
def pdfs(quick_pdf):
    """What is sent is about the Bundle, not the PDF's drawing (tests/fhir/conftest.py)."""


@pytest.fixture(autouse=True)
def no_cached_tokens():
    destination._tokens.clear()
    yield
    destination._tokens.clear()


def fhir_destination(institution, server, *, secret="static-token", **options) -> Destination:
    row = Destination(
        institution=institution,
        name="Hospital EHR",
        kind="fhir",
        send_images=False,
        options={"url": server.url, **options},
    )
    row.secret = secret
    row.save()
    return row


def oauth_destination(institution, server, **options) -> Destination:
    return fhir_destination(
        institution,
        server,
        secret=server.client_secret,
        token_url=server.token_url,
        client_id=server.client_id,
        scope="system/*.write",
        **options,
    )


def send_due(exam) -> list[str]:
    rows = Transmission.objects.filter(exam=exam, state=Transmission.State.PENDING)
    rows.update(next_attempt_at=timezone.now(), claimed_until=None)
    return [send_transmission(pk) for pk in rows.order_by("pk").values_list("pk", flat=True)]


def test_the_kind_is_registered():
    kind = kinds.get("fhir")
    assert kind.label == "FHIR R4 server"
    assert kind.carries == kinds.REPORT
    assert [o.name for o in kind.options][:4] == ["url", "token_url", "client_id", "scope"]
    assert kind.secret_label == "Bearer token or client secret" and kind.secret_flag == "--token"


def test_a_signed_report_is_posted_as_a_transaction(exams, users, server):
    exam = exams["north"]
    target = fhir_destination(exam.institution, server)
    report = sign(exam, users["bob"])
    assert send_due(exam) == ["sent"]
    row = Transmission.objects.get(exam=exam)
    assert row.state == Transmission.State.SENT
    assert row.remote_answer.startswith("DiagnosticReport/") and "201 Created" in row.remote_answer
    assert row.uid.startswith("DiagnosticReport/")
    (request,) = [r for r in server.requests if r["method"] == "POST"]
    assert request["headers"]["Content-Type"] == "application/fhir+json"
    assert request["headers"]["Authorization"] == "Bearer static-token"
    sent = json.loads(request["body"])
    bundle.validate(sent)
    assert sent["type"] == "transaction"
    requests = {e["resource"]["resourceType"]: e["request"] for e in sent["entry"]}
    assert requests["Patient"]["method"] == "POST" and "ifNoneExist" in requests["Patient"]
    assert requests["DiagnosticReport"]["method"] == "PUT"
    assert requests["DiagnosticReport"]["url"].startswith("DiagnosticReport?identifier=")
    (study,) = server.of_type("ImagingStudy")
    assert study["identifier"][0]["value"] == f"urn:oid:{uids.study_uid(exam)}"
    (diagnostic,) = server.of_type("DiagnosticReport")
    assert diagnostic["status"] == "final"
    form = diagnostic["presentedForm"][0]
    assert base64.b64decode(form["data"]) == storage.local_file(report.file).read_bytes()
    assert server.of_type("Observation")
    target.refresh_from_db()
    assert target.last_success_at is not None and target.failing_since is None


def test_an_addendum_updates_the_same_report_as_amended(exams, users, server):
    exam = exams["north"]
    fhir_destination(exam.institution, server)
    sign(exam, users["bob"])
    send_due(exam)
    _, report = add_addendum(exam, users["bob"], "The duct was seen after all.")
    built(report)
    assert send_due(exam) == ["sent"]
    (diagnostic,) = server.of_type("DiagnosticReport")
    assert diagnostic["status"] == "amended"
    assert len(server.of_type("Patient")) == 1 and len(server.of_type("ImagingStudy")) == 1
    row = Transmission.objects.get(exam=exam, report=report)
    assert row.result_status == "C" and "200 OK" in row.remote_answer
    # Resending changes nothing on the server's side but the version.
    assert resend(Transmission.objects.filter(pk=row.pk)) == 1
    assert send_due(exam) == ["sent"]
    assert len(server.of_type("DiagnosticReport")) == 1


def test_a_refusal_with_an_operation_outcome_fails_with_its_text(exams, users, server):
    exam = exams["north"]
    fhir_destination(exam.institution, server)
    server.answers = [(422, "Patient.birthDate: date in the future")]
    sign(exam, users["bob"])
    assert send_due(exam) == ["failed"]
    row = Transmission.objects.get(exam=exam)
    assert row.state == Transmission.State.FAILED
    assert "422" in row.last_error and "Patient.birthDate: date in the future" in row.last_error
    assert row.attempts == 1  # the same Bundle again cannot help


def test_a_server_error_is_retried_until_it_answers(exams, users, server):
    exam = exams["north"]
    target = fhir_destination(exam.institution, server)
    server.answers = [(503, "down for maintenance")]
    sign(exam, users["bob"])
    assert send_due(exam) == ["retry"]
    row = Transmission.objects.get(exam=exam)
    assert row.state == Transmission.State.PENDING and row.next_attempt_at is not None
    assert "503" in row.last_error and "down for maintenance" in row.last_error
    target.refresh_from_db()
    assert target.failing_since is not None
    assert send_due(exam) == ["sent"]
    row.refresh_from_db()
    assert row.state == Transmission.State.SENT and row.attempts == 2
    assert len(server.of_type("DiagnosticReport")) == 1


def test_a_wrong_static_token_is_retried_with_words(exams, users, server):
    exam = exams["north"]
    fhir_destination(exam.institution, server, secret="wrong")
    sign(exam, users["bob"])
    assert send_due(exam) == ["retry"]
    row = Transmission.objects.get(exam=exam)
    assert "401" in row.last_error and "check the token" in row.last_error
    assert "wrong" not in row.last_error


def test_client_credentials_fetch_a_token_once_and_refresh_it_when_refused(exams, users, server):
    exam = exams["north"]
    oauth_destination(exam.institution, server)
    sign(exam, users["bob"])
    assert send_due(exam) == ["sent"]
    (first,) = server.token_requests
    assert first["form"] == {"grant_type": "client_credentials", "scope": "system/*.write"}
    posted = [r for r in server.requests if r["method"] == "POST"]
    assert posted[-1]["headers"]["Authorization"] == "Bearer token-1"
    # The cached token is used again...
    _, report = add_addendum(exam, users["bob"], "One more thing.")
    built(report)
    assert send_due(exam) == ["sent"]
    assert len(server.token_requests) == 1
    # ...until the server refuses it: then a new one, once, and the same request again.
    server.revoke()
    _, report = add_addendum(exam, users["bob"], "And another.")
    built(report)
    assert send_due(exam) == ["sent"]
    assert len(server.token_requests) == 2
    posted = [r for r in server.requests if r["method"] == "POST"]
    assert [p["headers"]["Authorization"] for p in posted[-2:]] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_a_wrong_client_secret_says_so(exams, users, server):
    exam = exams["north"]
    target = oauth_destination(exam.institution, server)
    target.secret = "not-the-secret"
    target.save()
    sign(exam, users["bob"])
    assert send_due(exam) == ["retry"]
    row = Transmission.objects.get(exam=exam)
    assert "token URL refused" in row.last_error and "invalid_client" in row.last_error
    assert not [r for r in server.requests if r["method"] == "POST"]


def test_no_redirect_is_followed_with_the_token(exams, users, server):
    other = FhirServer(static_token="static-token")
    try:
        exam = exams["north"]
        fhir_destination(exam.institution, server, url=f"{server.url}-moved")
        server.answers = []
        sign(exam, users["bob"])

        # The base URL answers a redirect to another origin.
        def redirect(self):
            self.send_response(307)
            self.send_header("Location", other.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        handler = server.server.RequestHandlerClass
        original = handler.do_POST
        handler.do_POST = redirect
        try:
            assert send_due(exam) == ["retry"]
        finally:
            handler.do_POST = original
        row = Transmission.objects.get(exam=exam)
        assert "307" in row.last_error and "redirect" in row.last_error
        assert other.requests == []
    finally:
        other.close()


def test_a_server_that_is_not_there_is_retried(exams, users, server):
    exam = exams["north"]
    fhir_destination(exam.institution, server)
    server.close()
    sign(exam, users["bob"])
    assert send_due(exam) == ["retry"]
    assert "No answer from http://127.0.0.1:" in Transmission.objects.get(exam=exam).last_error


def test_the_test_reads_the_metadata(exams, server):
    target = fhir_destination(exams["north"].institution, server)
    said = destination.test(target)
    assert said.startswith("FHIR 4.0.1 server answered in ") and said.endswith(" ms")
    (request,) = server.requests
    assert request["path"] == "/fhir/metadata"
    assert request["headers"]["Authorization"] == "Bearer static-token"
    oauth = oauth_destination(exams["north"].institution, server)
    assert destination.test(oauth).startswith("FHIR 4.0.1")
    target.secret = "wrong"
    with pytest.raises(kinds.DeliveryFailed, match="401"):
        destination.test(target)


def test_describe_is_the_url_without_credentials(exams, server):
    target = fhir_destination(exams["north"].institution, server)
    assert target.address == server.url
    target.options["url"] = "https://user:pw@ehr.example.org/fhir/"
    assert destination.describe(target) == "https://ehr.example.org/fhir"


def test_the_command_adds_and_tests_one(northside, server):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "destination",
        "add",
        "northside",
        "fhir",
        "--url",
        server.url,
        "--token",
        "static-token",
        stdout=out,
    )
    pk = int(out.getvalue().strip().splitlines()[-1])
    added = Destination.objects.get(pk=pk)
    assert (added.kind, added.send_report, added.send_images) == ("fhir", True, False)
    assert added.secret == "static-token" and "static-token" not in added.secret_encrypted
    out = StringIO()
    call_command("destination", "test", str(pk), stdout=out)
    assert "FHIR 4.0.1 server answered in" in out.getvalue()


def test_with_an_mrn_system_the_patient_is_matched_by_its_mrn(exams, users, server, northside):
    from portal.exams.models import Patient
    from tests.factories import make_exam

    exam = exams["north"]
    fhir_destination(exam.institution, server, mrn_system="urn:oid:1.2.840.99.1")
    again = make_exam(northside, users["bob"], patient_name="Nora North")
    Patient.objects.filter(exam__in=[exam, again]).update(identifier="MRN|7,1")
    sign(exam, users["bob"])
    sign(again, users["bob"])
    assert send_due(exam) == ["sent"] and send_due(again) == ["sent"]
    (patient,) = server.of_type("Patient")  # one patient, two studies and reports
    assert len(server.of_type("ImagingStudy")) == 2
    assert len(server.of_type("DiagnosticReport")) == 2
    assert patient["identifier"][0]["system"] == "urn:oid:1.2.840.99.1"
    first = json.loads(next(r for r in server.requests if r["method"] == "POST")["body"])
    assert first["entry"][0]["request"]["ifNoneExist"] == (
        "identifier=urn:oid:1.2.840.99.1|MRN%5C%7C7%5C%2C1"
    )


def test_without_an_mrn_system_each_exams_patient_is_its_own(exams, users, server, northside):
    from tests.factories import make_exam

    exam = exams["north"]
    fhir_destination(exam.institution, server)
    again = make_exam(northside, users["bob"], patient_name="Nora North")
    sign(exam, users["bob"])
    sign(again, users["bob"])
    assert send_due(exam) == ["sent"] and send_due(again) == ["sent"]
    assert len(server.of_type("Patient")) == 2


def test_no_answer_in_time_is_retried_and_then_sent(exams, users, server, monkeypatch):
    monkeypatch.setattr(destination, "READ_TIMEOUT", 0.5)
    exam = exams["north"]
    fhir_destination(exam.institution, server)
    server.answers = ["hang"]
    sign(exam, users["bob"])
    assert send_due(exam) == ["retry"]
    row = Transmission.objects.get(exam=exam)
    assert "no answer in time" in row.last_error
    server.release.set()
    assert send_due(exam) == ["sent"]
    assert len(server.of_type("DiagnosticReport")) == 1
