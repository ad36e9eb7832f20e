"""Every recorded Clarius document (tests/fixtures/clarius/) through the portal's parser.

The fixtures are the vendor reference's examples (docs/clarius-cloud-api.md). Each goes
through the code that parses it in production: the client's method for its endpoint,
driven by a fake ``requests`` session that answers with the recorded body, or the
webhook's ``parse_notification``. Key fields must come out right and no documented field
may be left unmodelled in ``extra``. tests/clarius/test_sandbox_conformance.py checks the
sandbox answers in the same shapes, so neither side can drift from the reference alone.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from integrations.clarius.api.client import ResearchClient, ServiceClient
from integrations.clarius.api.documents import ExamDownload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clarius"
API_URL = "https://cloud.clarius.com/api/public/v0/"
API_KEY = "Q4nmtzH5.mvIzWOlklcrFJ3iWaJTFESYCzCe8j6TQ"
MEDIA_ORIGINS = ["https://*.amazonaws.com"]
TOKEN = "eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY"
CARDIAC = "3b8e2f41-6a7d-4c9e-8f10-2d5c7a9b1e63"
EXAM = "46805f86-2c1d-4e7a-b5f3-9a8d6c4e2b17"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture(name: str):
    return json.loads(fixture_bytes(name))


class RecordedSession(requests.Session):
    """Answers ``(method, path below the API root)`` with a recorded fixture."""

    def __init__(self, routes: dict[tuple[str, str], tuple[int, str]]) -> None:
        super().__init__()
        self.routes = routes
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        path = urlsplit(request.url).path.removeprefix(urlsplit(API_URL).path)
        status, name = self.routes[(request.method, path)]
        response = requests.Response()
        response.status_code = status
        response._content = fixture_bytes(name)
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response


def service(routes) -> tuple[ServiceClient, RecordedSession]:
    session = RecordedSession(routes)
    return ServiceClient(API_URL, API_KEY, media_origins=MEDIA_ORIGINS, session=session), session


def research(routes, token: str | None = "t0ken") -> tuple[ResearchClient, RecordedSession]:
    session = RecordedSession(routes)
    client = ResearchClient(API_URL, token, media_origins=MEDIA_ORIGINS, session=session)
    return client, session


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the webhook and the poll ------------------------------------------------------------


def test_the_notification_passes_the_webhook_validation():
    from integrations.clarius.ingestion.webhooks import parse_notification

    fields = parse_notification(fixture_bytes("notification.json"))
    assert fields == {
        "request_uuid": uuid.UUID("cf1b649c-428a-4cc2-b726-066f8a8c31a7"),
        "exam_uuid": uuid.UUID("418c1f0f-4dd5-4c65-ae68-1fe8eccf46e5"),
        "customer_id": TOKEN,
        "download_url": API_URL + "download-requests/cf1b649c-428a-4cc2-b726-066f8a8c31a7/data/",
        "submitted_at": datetime(2022, 10, 22, 3, 10, 47, 231755, tzinfo=UTC),
    }


def test_the_notification_is_an_exam_download():
    item = ExamDownload.from_json(fixture("notification.json"))
    assert item.request_uuid == "cf1b649c-428a-4cc2-b726-066f8a8c31a7"
    assert item.customer_id == TOKEN
    assert item.submitted_at == stamp("2022-10-22T03:10:47.231755Z")
    assert item.extra == {}


def test_the_accessible_exams_page_lists_two_submissions_of_one_exam():
    client, session = service({("GET", "exams/accessible/"): (200, "exams-accessible-page.json")})
    items = list(client.iter_accessible_exams(customer_id=TOKEN))
    assert [i.request_uuid for i in items] == [
        "cf1b649c-428a-4cc2-b726-066f8a8c31a7",
        "f037679c-6ed2-46cd-b2dc-f4abe52e5b52",
    ]
    assert {i.exam_uuid for i in items} == {"418c1f0f-4dd5-4c65-ae68-1fe8eccf46e5"}
    assert all(i.customer_id == TOKEN and i.extra == {} for i in items)
    assert items[1].submitted_at == stamp("2022-10-22T04:02:11.508324Z")
    # Both download_url forms of the vendor's examples pass the API origin guard.
    assert [urlsplit(i.download_url).path.split("/")[4] for i in items] == [
        "download-requests",
        "exams",
    ]
    for item in items:
        client.guard.check_api(item.download_url)
    assert len(session.sent) == 1
    assert "customer_id=" + TOKEN in session.sent[0].url


# --- exam data ---------------------------------------------------------------------------


def test_the_exam_data_of_a_human_patient():
    name = "exams-download-requests-data.json"
    path = "exams/download-requests/f037679c-6ed2-46cd-b2dc-f4abe52e5b52/data/"
    client, session = service({("GET", path): (200, name)})
    data = client.get_exam_data(API_URL + path)
    assert data.request_uuid == "f037679c-6ed2-46cd-b2dc-f4abe52e5b52"
    patient = data.patient
    assert (patient.identifier, patient.date_of_birth) == ("12345", date(1970, 1, 1))
    assert (patient.first_name, patient.middle_name, patient.last_name) == ("Jane", "Q", "Doe")
    assert patient.gender == "female"
    assert not patient.is_animal
    assert patient.extra == {} and data.extra == {}
    assert [urlsplit(c.url).path.rsplit(".", 1)[1] for c in data.captures] == ["jpg", "mp4"]
    assert data.document == fixture(name)
    assert session.sent[0].headers["Authorization"] == f"Service-API-Key {API_KEY}"


def test_the_exam_data_of_an_animal_patient():
    path = "download-requests/0d5a7c1e-93b2-4f6d-8a1c-5e2f7b9d3c40/data/"
    client, _ = service({("GET", path): (200, "exams-download-requests-data-animal.json")})
    data = client.get_exam_data(API_URL + path)
    patient = data.patient
    assert patient.is_animal
    assert (patient.animal_name, patient.animal_type, patient.owner_name) == (
        "Biscuit",
        "Canine",
        "Sam Walsh",
    )
    assert patient.date_of_birth == date(2019, 5, 14)
    assert patient.first_name is None and patient.extra == {}
    assert len(data.captures) == 1
    # Capture links are on the media origins (pre-signed storage), never the API's.
    client.guard.check_media(data.captures[0].url)


# --- service settings, linking, records ---------------------------------------------------


def test_the_service_settings():
    client, _ = service({("GET", "services/settings/"): (200, "services-settings.json")})
    settings = client.get_settings()
    assert settings.notification_url.startswith("https://portal.example.com/clarius/")
    assert settings.token_transfer_url == "https://portal.example.com/clarius/connect/{token}/"
    assert settings.extra == {}


def test_the_confirmed_tokens_are_strings():
    client, _ = service(
        {("GET", "services/confirmed-tokens/"): (200, "services-confirmed-tokens-page.json")}
    )
    tokens = list(client.iter_confirmed_tokens())
    assert tokens == fixture("services-confirmed-tokens-page.json")["results"]
    assert tokens[0] == TOKEN


def test_a_notification_record_that_timed_out():
    client, _ = service(
        {
            ("GET", "services/notifications/records/"): (
                200,
                "services-notifications-records-page.json",
            )
        }
    )
    [record] = list(client.iter_notification_records())
    assert record.logged_at == stamp("2023-06-01T02:15:28.331086Z")
    event = record.event
    assert event.sent_at == stamp("2023-06-01T02:15:23.435871Z")
    assert (event.request.url, event.request.method, event.request.content) == (
        "https://example.com",
        "POST",
        "{}",
    )
    assert event.response is None and event.status_code is None
    assert event.error == "timed out"
    assert record.extra == event.extra == event.request.extra == {}


# --- API keys and applications -------------------------------------------------------------


def test_the_api_key_listing_never_has_secrets():
    client, _ = service({("GET", "services/api-keys/"): (200, "services-api-keys.json")})
    [key] = client.list_api_keys()
    assert (key.prefix, key.name, key.key) == ("QUgDR6JB", "My key", None)
    assert key.created == stamp("2022-08-31T23:28:55.587755Z")
    assert key.extra == {}


def test_a_created_api_key_carries_its_secret_once():
    client, session = service(
        {("POST", "services/api-keys/"): (201, "services-api-keys-created.json")}
    )
    key = client.create_api_key("My new api key")
    assert (key.prefix, key.name) == ("ghhni3x8", "My new api key")
    assert key.key == "ghhni3x8.aToALr2FC8A7toD11Cj902BLtTuLSZEr"
    assert key.key.partition(".")[0] == key.prefix
    assert "aToALr2FC8A7" not in repr(key)
    assert json.loads(session.sent[0].body) == {"name": "My new api key"}


def test_the_exam_applications():
    client, _ = service({("GET", "exams/applications/"): (200, "exams-applications.json")})
    applications = client.list_exam_applications()
    assert [a.name for a in applications] == ["Abdomen", "Cardiac"]
    assert all(uuid.UUID(a.uuid) and a.extra == {} for a in applications)


@pytest.mark.parametrize(
    "name, call",
    [
        ("services-applications.json", lambda c: c.list_application_customisations()[0]),
        ("services-applications-detail.json", lambda c: c.get_application_customisation(CARDIAC)),
    ],
)
def test_an_application_customisation(name, call):
    path = "services/applications/" if "detail" not in name else f"services/applications/{CARDIAC}/"
    client, _ = service({("GET", path): (200, name)})
    customisation = call(client)
    assert (customisation.uuid, customisation.name) == (CARDIAC, "Cardiac")
    [group] = customisation.annotations
    assert (group.title, group.labels, group.linked) == (
        "Our special annotations",
        ["LABEL1", "LABEL2"],
        False,
    )
    assert customisation.extra == group.extra == {}


# --- Research API ----------------------------------------------------------------------------


def test_the_research_token():
    client, session = research({("POST", "token-auth/"): (200, "research-token-auth.json")}, None)
    token = client.authenticate("researcher@example.com", "secret")
    assert token == fixture("research-token-auth.json")["token"]
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert client.token == token
    assert "Authorization" not in session.sent[0].headers


def test_the_raw_data_of_a_capture():
    path = f"exams/rawdata/{EXAM}/"
    client, session = research({("GET", path): (200, "research-exams-rawdata.json")})
    [capture] = client.list_raw_data(EXAM)
    assert session.sent[0].headers["Authorization"] == "Token t0ken"
    assert capture.capture_uuid == "a821fa45-0d3b-4b6e-9c2a-7f1e5d8c4b90"
    assert capture.blob_error is None and capture.extra == {}
    client.guard.check_media(capture.raw_image)
    meta = capture.metadata
    assert meta.id == capture.capture_uuid and meta.exam_id == EXAM
    assert meta.date_time == datetime(2021, 9, 15, 13, 43, 0, 943000, timezone(timedelta(hours=-8)))
    assert (meta.probe_serial, meta.probe_model) == ("PROBE-SERIAL", "EXAMPLE-MODELNUMBER")
    assert meta.extra == {}
    [section] = meta.sections
    assert section.files[0].endswith("_env.raw")
    [stream] = section.streams
    assert (stream.stream_id, stream.type, stream.compression) == (0, "B pre-scan", "jpeg")
    assert (stream.size.samples_per_line, stream.size.number_of_lines) == (1078, 192)
    assert stream.size.sample_size_bytes == 1
    assert stream.sampling_rate_hz == pytest.approx(7_543_859.6491228074)
    assert stream.extra == {"info": {"frame rate": "20.0 Hz", "frames": 1.0}}
    acoustic = section.acoustic
    assert (acoustic.mi, acoustic.tib, acoustic.tis) == (1.001, 0.266, 0.2350692)


def test_a_dicom_export():
    path = f"exams/dicom/{EXAM}/"
    client, session = research({("POST", path): (200, "research-exams-dicom.json")})
    export = client.export_dicom(EXAM, resolution=(1024, 768), include_annotations=True)
    assert urlsplit(export.download_url).path.endswith(f"/{EXAM}.dcm")
    client.guard.check_media(export.download_url)
    assert export.extra == {}
    assert json.loads(session.sent[0].body) == {
        "resolution": "1024x768",
        "include_annotations": True,
    }


# --- the fixture set itself ----------------------------------------------------------------


def test_every_fixture_is_valid_json_and_listed_in_the_index():
    names = sorted(p.name for p in FIXTURES.glob("*.json"))
    assert len(names) == 15
    index = (FIXTURES / "README.md").read_text()
    for name in names:
        json.loads(fixture_bytes(name))  # the vendor's trailing commas are not kept
        assert f"`{name}`" in index, f"{name} is missing from tests/fixtures/clarius/README.md"
    this_file = Path(__file__).read_text()
    assert all(f'"{name}"' in this_file for name in names), "a fixture no test parses"
