"""``python manage.py destination add|list|test|remove``.

The command is built from the registry, so most tests register kinds of their own (a
"probe" that takes images and reports, with a token, and a "notes" that takes reports
only); the last ones parse each real kind's ``add`` once its integration is installed.
"""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from portal.outbound import kinds
from portal.outbound.models import Destination, Transmission
from tests.factories import make_exam


def run(*args):
    out = io.StringIO()
    call_command("destination", *args, stdout=out)
    return out.getvalue()


def describe(destination):
    return (
        f"{destination.option('station')}@{destination.option('host')}:{destination.option('port')}"
    )


def check(destination):
    if destination.option("host") == "down.example":
        raise kinds.DeliveryFailed("Nothing answers on down.example:104; is it switched on?")
    return f"It answered (token {'set' if destination.secret else 'none'})."


PROBE = kinds.Kind(
    key="probe",
    label="Probe archive",
    carries=kinds.IMAGES | kinds.REPORT,
    send=lambda transmission: "ok",
    test=check,
    describe=describe,
    options=(
        kinds.Option("host", "Host", required=True),
        kinds.Option("port", "Port", type="int", required=True),
        kinds.Option("station", "Station", default="PORTAL"),
        kinds.Option("secure", "Secure", type="bool"),
        kinds.Option("attach", "Attach the PDF", type="bool", default=True),
        kinds.Option("base_url", "Base URL", type="url"),
    ),
    secret_label="Bearer token",
)
NOTES = kinds.Kind(
    key="notes",
    label="Notes feed",
    carries=kinds.REPORT,
    send=lambda transmission: "ok",
    test=lambda destination: "fine",
    describe=lambda destination: destination.option("host", ""),
    options=(kinds.Option("host", "Host", required=True),),
)


@pytest.fixture
def probe_kinds():
    for kind in (PROBE, NOTES):
        kinds.register(kind)
    yield
    for kind in (PROBE, NOTES):
        kinds._kinds.entries.pop(kind.key, None)


def add(*args):
    out = run("add", *args)
    return out, Destination.objects.get(pk=int(out.strip().splitlines()[-1]))


def test_add_prints_the_id_last_then_list_test_and_remove(northside, southside, probe_kinds):
    out, destination = add(
        "northside", "probe", "--host", "pacs.example", "--port", "104", "--secure"
    )
    assert out.strip().splitlines()[-1] == str(destination.pk)
    assert "PORTAL@pacs.example:104" in out and "images and report" in out
    assert destination.institution == northside
    assert destination.options == {
        "host": "pacs.example",
        "port": 104,
        "station": "PORTAL",
        "secure": True,
        "attach": True,
    }
    assert destination.send_images and destination.send_report and destination.is_active
    assert destination.name == "Probe archive PORTAL@pacs.example:104"
    assert destination.secret == ""

    destination.last_success_at = timezone.now()
    destination.save()
    listing = run("list", "northside")
    header, row = listing.strip().splitlines()
    assert header.split("\t") == ["id", "name", "kind", "address", "active", "sends", "health"]
    cells = row.split("\t")
    assert cells[:6] == [
        str(destination.pk),
        destination.name,
        "Probe archive",
        "PORTAL@pacs.example:104",
        "active",
        "images,report",
    ]
    assert cells[6].startswith("last sent ")
    assert "no destinations" in run("list", "southside")

    assert "It answered (token none)." in run("test", str(destination.pk))

    exam = make_exam(northside)
    Transmission.objects.create(
        institution=northside, destination=destination, exam=exam, what="report"
    )
    removed = run("remove", str(destination.pk))
    assert "Removed destination" in removed and "1 logged delivery" in removed
    assert not Destination.objects.exists() and not Transmission.objects.exists()


def test_options_name_and_send(northside, probe_kinds):
    _, destination = add(
        "northside",
        "probe",
        "--host=h",
        "--port=1",
        "--station",
        "ST",
        "--no-attach",
        "--base-url",
        "https://pacs.example/dicom-web",
        "--name",
        "  Main PACS ",
        "--send",
        "report",
    )
    assert destination.name == "Main PACS"
    assert destination.options["attach"] is False and destination.options["station"] == "ST"
    assert destination.options["base_url"] == "https://pacs.example/dicom-web"
    assert not destination.send_images and destination.send_report
    _, images_only = add("northside", "probe", "--host=h", "--port=1", "--send", "images")
    assert images_only.send_images and not images_only.send_report
    # A kind that carries reports only sends the report by default.
    out, notes = add("northside", "notes", "--host", "ehr.example")
    assert not notes.send_images and notes.send_report
    assert "sending the report" in out


def test_the_token_is_stored_encrypted_and_never_printed(
    northside, probe_kinds, tmp_path, monkeypatch
):
    token = "tok-1234567890-secret"
    out, destination = add("northside", "probe", "--host=h", "--port=1", "--token", token)
    assert destination.secret == token
    assert token not in destination.secret_encrypted
    assert "bearer token stored encrypted" in out
    for text in (out, run("list", "northside"), run("test", str(destination.pk))):
        assert token not in text

    # Out of the shell's history: from a file (its first line), or the environment.
    path = tmp_path / "token"
    path.write_text("from-the-file\nignored\n")
    _, from_file = add("northside", "probe", "--host=h", "--port=1", "--token-file", str(path))
    assert from_file.secret == "from-the-file"
    monkeypatch.setenv("DESTINATION_TOKEN", "from-the-environment")
    out, from_env = add("northside", "probe", "--host=h", "--port=1")
    assert from_env.secret == "from-the-environment"
    assert "from-the-environment" not in out
    # The flag wins over the environment.
    _, flagged = add("northside", "probe", "--host=h", "--port=1", "--token", "flag")
    assert flagged.secret == "flag"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["add", "nowhere", "probe", "--host=h", "--port=1"], 'slug "nowhere"'),
        (["add", "northside", "telepathy", "--host=h"], "invalid choice: 'telepathy'"),
        (["add", "northside", "probe", "--port=104"], "required: --host"),
        (["add", "northside", "probe", "--host=h"], "required: --port"),
        (["add", "northside", "probe", "--host=h", "--port=http"], "'http': Enter a whole number."),
        (
            ["add", "northside", "probe", "--host=h", "--port=0"],
            "'0': Ensure this value is greater than or equal to 1.",
        ),
        (["add", "northside", "probe", "--host=h", "--port=70000"], "less than or equal to 65535"),
        (["add", "northside", "probe", "--host= ", "--port=1"], "--host: empty"),
        (
            ["add", "northside", "probe", "--host=h", "--port=1", "--base-url=ftp://x"],
            "Enter an http:// or https:// address.",
        ),
        (["add", "northside", "probe", "--host=h", "--port=1", "--send=pdf"], "say images"),
        (["add", "northside", "notes", "--host=h", "--send=images"], "cannot take the images"),
        (["add", "northside", "notes", "--host=h", "--token=x"], "unrecognized"),
        (
            ["add", "northside", "probe", "--host=h", "--port=1", "--token=a", "--token-file=b"],
            "not both",
        ),
        (["add", "northside", "probe", "--host=h", "--port=1", "--token-file=/nope"], "/nope"),
        (["add", "northside", "notes", "--host=h\x00"], "cannot be stored"),
        (["add", "northside", "notes", "--host=h", "--name", " "], "a name of 1 to 100"),
        (["add", "northside", "notes", "--host=h", "--name", "x" * 101], "a name of 1 to 100"),
        (["add", "northside", "notes", "--host=h", "--name", "a\x00b"], "a name of 1 to 100"),
        (["add", "northside", "probe", "--host=h", "--port=1", "--token=\ud800"], "cannot be"),
        (["list", "nowhere"], "slug"),
        (["test", "999"], "No destination has the id 999"),
        (["remove", "999"], "999"),
        (["remove", "99999999999999999999999"], "99999999999999999999999"),
        (["remove", "-1"], "-1"),
    ],
)
def test_refusals_name_the_reason(northside, probe_kinds, args, reason):
    with pytest.raises(CommandError, match=re.escape(reason)):
        run(*args)
    assert not Destination.objects.exists()


def test_a_failing_test_exits_with_the_error(northside, probe_kinds):
    _, destination = add("northside", "probe", "--host=down.example", "--port=104")
    with pytest.raises(CommandError, match="Nothing answers on down.example:104"):
        run("test", str(destination.pk))


def test_a_destination_of_a_kind_no_longer_installed(northside, probe_kinds):
    _, destination = add("northside", "notes", "--host=h")
    kinds._kinds.entries.pop("notes")
    assert "no installed integration sends 'notes'" in run("list", "northside")
    with pytest.raises(CommandError, match="no installed integration provides"):
        run("test", str(destination.pk))
    assert "Removed destination" in run("remove", str(destination.pk))


# The real kinds, as the Contract's examples add them ------------------------------------


def test_add_a_dicom_c_store_destination(northside):
    out, d = add(
        "northside",
        "dicom",
        "--host",
        "pacs.example.org",
        "--port",
        "11112",
        "--called-ae",
        "MAINPACS",
        "--calling-ae",
        "POCUS",
        "--tls",
        "--name",
        "Main PACS",
    )
    assert d.kind == "dicom" and d.send_images and d.send_report
    assert d.options == {
        "host": "pacs.example.org",
        "port": 11112,
        "called_ae": "MAINPACS",
        "calling_ae": "POCUS",
        "tls": True,
    }
    assert "MAINPACS@pacs.example.org:11112 (TLS)" in out
    with pytest.raises(CommandError, match="required: --called-ae"):
        run("add", "northside", "dicom", "--host", "pacs.example.org")
    with pytest.raises(CommandError, match="at most 16 characters"):
        run("add", "northside", "dicom", "--host=h", "--called-ae", "A" * 17)


def test_add_a_dicomweb_destination_with_its_token(northside):
    out, d = add(
        "northside",
        "dicomweb",
        "--url",
        "https://pacs.example.org/dicom-web",
        "--token",
        "sekrit-token",
        "--send",
        "images",
    )
    assert d.kind == "dicomweb" and d.options == {"url": "https://pacs.example.org/dicom-web"}
    assert d.secret == "sekrit-token" and "sekrit-token" not in out
    assert d.send_images and not d.send_report


def test_add_an_hl7_destination(northside):
    out, d = add(
        "northside",
        "hl7",
        "--host",
        "ehr.example.org",
        "--port",
        "2575",
        "--receiving-app",
        "EPIC",
        "--receiving-facility",
        "MAIN",
        "--no-include-pdf",
    )
    assert d.kind == "hl7" and not d.send_images and d.send_report
    assert d.options["host"] == "ehr.example.org" and d.options["port"] == 2575
    assert (d.options["receiving_app"], d.options["receiving_facility"]) == ("EPIC", "MAIN")
    assert d.options["include_pdf"] is False and d.options["tls"] is False
    assert "ehr.example.org:2575 (EPIC/MAIN)" in out
    with pytest.raises(CommandError, match="cannot take the images"):
        run("add", "northside", "hl7", "--host=h", "--send", "images,report")


def test_add_a_fhir_destination(northside, tmp_path):
    token = tmp_path / "token"
    token.write_text("fhir-bearer\n")
    out, d = add(
        "northside", "fhir", "--url", "https://fhir.example.org/r4", "--token-file", str(token)
    )
    assert d.kind == "fhir" and d.options == {"url": "https://fhir.example.org/r4"}
    assert d.secret == "fhir-bearer" and "fhir-bearer" not in out
    assert not d.send_images and d.send_report


def test_test_checks_a_real_receiver_and_fails_with_its_error(northside):
    from integrations.hl7 import listener
    from tests.services import closed_port

    server = listener.serve("127.0.0.1", 0)
    try:
        _, ehr = add("northside", "hl7", "--host=127.0.0.1", f"--port={server.port}")
        said = run("test", str(ehr.pk))
        assert said.startswith(f"{ehr.name} (127.0.0.1:{server.port}): ")
        assert len(server.received) == 1
    finally:
        server.stop()
    _, pacs = add(
        "northside", "dicom", "--host=127.0.0.1", f"--port={closed_port()}", "--called-ae=X"
    )
    with pytest.raises(CommandError, match="failed: "):
        run("test", str(pacs.pk))
