"""ServiceClient against the sandbox, over real sockets: every Service API endpoint."""

import hashlib
import io
import types

import pytest
import requests

from integrations.clarius.api.client import ServiceClient
from integrations.clarius.api.documents import AnnotationGroup, ApiKey, ExamData, ExamDownload
from integrations.clarius.api.errors import (
    BadRequest,
    InvalidParameter,
    NotFound,
    OriginRefused,
)
from integrations.clarius.api.transport import RetryPolicy, Timeouts


class CountingSession(requests.Session):
    """Records every URL sent, to see pages fetched one at a time."""

    def __init__(self):
        super().__init__()
        self.sent = []

    def send(self, request, **kwargs):
        self.sent.append(request.url)
        return super().send(request, **kwargs)


@pytest.fixture
def session():
    return CountingSession()


@pytest.fixture
def client(clarius_sandbox, session):
    return ServiceClient(
        clarius_sandbox.api_url,
        clarius_sandbox.api_key,
        media_origins=[clarius_sandbox.media_origin],
        allow_http=True,
        session=session,
        timeouts=Timeouts(connect=2, read=10, download_read=10),
        retry=RetryPolicy(retries=0),
    )


def linked_user(sandbox, name="Ann", **kwargs):
    user = sandbox.add_user(name, **kwargs)
    sandbox.state.confirm(user.customer_token)
    return user


# --- settings -----------------------------------------------------------------------


def test_it_reads_and_updates_the_service_settings(client):
    assert client.get_settings().notification_url == ""
    updated = client.update_settings(
        notification_url="https://portal.example.org/clarius/notifications/s3cret/",
        token_transfer_url="https://portal.example.org/clarius/connect/{token}/",
    )
    assert updated.token_transfer_url == "https://portal.example.org/clarius/connect/{token}/"
    assert client.get_settings() == updated
    cleared = client.update_settings(notification_url="")
    assert cleared.notification_url == ""
    assert cleared.token_transfer_url == updated.token_transfer_url


@pytest.mark.parametrize(
    "kwargs",
    [
        {"token_transfer_url": "https://portal.example.org/connect/"},
        {"notification_url": "ftp://portal.example.org/"},
        {"notification_url": "not a url"},
        {},
    ],
)
def test_it_refuses_bad_settings_before_sending(client, session, kwargs):
    with pytest.raises(InvalidParameter):
        client.update_settings(**kwargs)
    assert session.sent == []


# --- linking --------------------------------------------------------------------------


def test_it_confirms_a_customer_token(client, clarius_sandbox):
    user = clarius_sandbox.add_user("Ann")
    client.confirm_customer(user.customer_token)
    assert clarius_sandbox.state.user(user).confirmed
    assert list(client.iter_confirmed_tokens()) == [user.customer_token]


def test_an_unknown_customer_token_is_not_found_for_good(client):
    with pytest.raises(NotFound) as excinfo:
        client.confirm_customer("no-such-token")
    assert excinfo.value.status == 404
    assert excinfo.value.permanent is True


def test_confirmed_tokens_are_paged_lazily(client, clarius_sandbox, session):
    tokens = [linked_user(clarius_sandbox, f"U{i}").customer_token for i in range(5)]
    iterator = client.iter_confirmed_tokens(limit=2)
    assert isinstance(iterator, types.GeneratorType)
    assert session.sent == []
    assert next(iterator) == tokens[0]
    assert len(session.sent) == 1  # one page fetched, not the whole listing
    assert [tokens[0], *iterator] == tokens
    assert len(session.sent) == 3
    assert "limit=2" in session.sent[0] and "offset=4" in session.sent[2]


# --- exams ------------------------------------------------------------------------------


def test_it_pages_through_accessible_exams_and_filters_by_customer(client, clarius_sandbox):
    ann = linked_user(clarius_sandbox, "Ann")
    bob = linked_user(clarius_sandbox, "Bob")
    anns = [clarius_sandbox.upload_exam(ann, notify=False) for _ in range(5)]
    clarius_sandbox.upload_exam(bob, notify=False)
    everything = list(client.iter_accessible_exams(limit=2))
    assert len(everything) == 6
    assert all(isinstance(item, ExamDownload) for item in everything)
    only_ann = list(client.iter_accessible_exams(customer_id=ann.customer_token, limit=2))
    assert [e.request_uuid for e in only_ann] == [r.request_uuid for r in anns]
    first = only_ann[0]
    assert first.exam_uuid == anns[0].exam_uuid
    assert first.customer_id == ann.customer_token
    assert first.download_url == anns[0].download_url
    assert first.submitted_at is not None


@pytest.mark.parametrize("style", ["exams", "bare"])
def test_it_fetches_exam_data_from_either_download_url_form(client, clarius_sandbox, style):
    clarius_sandbox.state.download_url_style = style
    submission = clarius_sandbox.upload_exam(
        linked_user(clarius_sandbox), captures=2, videos=1, notify=False
    )
    data = client.get_exam_data(submission.download_url)
    assert isinstance(data, ExamData)
    assert data.request_uuid == submission.request_uuid
    assert data.patient is not None
    assert len(data.captures) == 3
    assert all(c.url.startswith(clarius_sandbox.media_origin) for c in data.captures)


def test_an_animal_patient_is_typed(client, clarius_sandbox):
    submission = clarius_sandbox.upload_exam(
        linked_user(clarius_sandbox), animal=True, notify=False
    )
    patient = client.get_exam_data(submission.download_url).patient
    assert patient.is_animal


def test_exam_data_still_processing_is_a_retryable_bad_request(client, clarius_sandbox):
    submission = clarius_sandbox.upload_exam(linked_user(clarius_sandbox), notify=False)
    clarius_sandbox.inject(
        "download-requests/", status=400, body='{"detail": "exam is still being processed"}'
    )
    with pytest.raises(BadRequest) as excinfo:
        client.get_exam_data(submission.download_url)
    assert excinfo.value.still_processing is True
    assert excinfo.value.permanent is False


def test_a_foreign_download_url_is_refused_without_a_request(client, clarius_sandbox, session):
    submission = clarius_sandbox.upload_exam(linked_user(clarius_sandbox), notify=False)
    path = submission.download_url.split("/api/", 1)[1]
    for url in (
        f"{clarius_sandbox.media_origin}/api/{path}",  # another port: another origin
        f"http://localhost:{clarius_sandbox.api_origin.rsplit(':', 1)[1]}/api/{path}",
        f"{clarius_sandbox.api_origin}/sandbox/",
    ):
        with pytest.raises(OriginRefused):
            client.get_exam_data(url)
    assert session.sent == []
    assert clarius_sandbox.state.leaked_credentials == []


def test_captures_download_without_the_key(client, clarius_sandbox, tmp_path):
    submission = clarius_sandbox.upload_exam(
        linked_user(clarius_sandbox), captures=1, videos=1, notify=False
    )
    image, video = client.get_exam_data(submission.download_url).captures
    jpeg = client.download_media(image.url, tmp_path / "image.jpg")
    mp4 = client.download_media(video.url, tmp_path / "video.mp4")
    assert (jpeg.content_type, jpeg.sniffed_type) == ("image/jpeg", "image/jpeg")
    assert (mp4.content_type, mp4.sniffed_type) == ("video/mp4", "video/mp4")
    assert jpeg.sha256 == hashlib.sha256((tmp_path / "image.jpg").read_bytes()).hexdigest()
    assert clarius_sandbox.state.leaked_credentials == []


# --- reports ----------------------------------------------------------------------------


def test_it_uploads_a_report_from_a_path(client, clarius_sandbox, tmp_path):
    submission = clarius_sandbox.upload_exam(linked_user(clarius_sandbox), notify=False)
    pdf = tmp_path / "findings.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 100)
    receipt = client.upload_report(submission.request_uuid, "Radiology report", pdf)
    assert receipt.status == 201
    stored = clarius_sandbox.state.requests[submission.request_uuid].reports[0]
    assert (stored.name, stored.filename, stored.content_type) == (
        "Radiology report",
        "findings.pdf",
        "application/pdf",
    )
    assert stored.data == pdf.read_bytes()


def test_it_uploads_a_report_from_a_file_object_with_an_odd_name(client, clarius_sandbox):
    submission = clarius_sandbox.upload_exam(linked_user(clarius_sandbox), notify=False)
    body = b"%PDF-1.4 tiny"
    client.upload_report(
        submission.request_uuid, "Befund «ü»", io.BytesIO(body), filename='a "b".pdf'
    )
    stored = clarius_sandbox.state.requests[submission.request_uuid].reports[0]
    assert stored.name == "Befund «ü»"
    assert stored.data == body


class ReadRecorder(io.FileIO):
    """A real file that remembers how much each read() asked for."""

    def __init__(self, path):
        super().__init__(path, "rb")
        self.reads = []

    def read(self, size=-1):
        self.reads.append(size)
        return super().read(size)


def test_a_report_upload_streams_the_file_in_small_reads(client, clarius_sandbox, tmp_path):
    submission = clarius_sandbox.upload_exam(linked_user(clarius_sandbox), notify=False)
    pdf = tmp_path / "big.pdf"
    with pdf.open("wb") as f:
        for i in range(20):
            f.write(bytes([i]) * (1024 * 1024))
    with ReadRecorder(pdf) as fileobj:
        client.upload_report(submission.request_uuid, "Big", fileobj)
    # requests' own files= would read() the whole file at once; this never asks for
    # more than one 64 KiB chunk.
    assert len(fileobj.reads) >= 320
    assert all(0 < size <= 64 * 1024 for size in fileobj.reads)
    stored = clarius_sandbox.state.requests[submission.request_uuid].reports[0]
    assert stored.data == pdf.read_bytes()


def test_a_report_for_an_unknown_request_is_not_found(client, tmp_path):
    with pytest.raises(NotFound):
        client.upload_report("6b0f6a4e-0000-4000-8000-000000000000", "R", io.BytesIO(b"x"))


def test_a_report_path_segment_cannot_escape(client, session):
    with pytest.raises(InvalidParameter):
        client.upload_report("../api-keys", "R", io.BytesIO(b"x"))
    assert session.sent == []


# --- notification records ---------------------------------------------------------------


def test_it_pages_through_notification_records(client, clarius_sandbox):
    client.update_settings(notification_url="http://127.0.0.1:9/never-listening/")
    user = linked_user(clarius_sandbox)
    for _ in range(3):
        clarius_sandbox.upload_exam(user)
    clarius_sandbox.wait_for_deliveries()
    records = list(client.iter_notification_records(limit=1))
    assert len(records) == 3
    for record in records:
        assert record.logged_at is not None
        assert record.event.request.url == "http://127.0.0.1:9/never-listening/"
        assert record.event.request.method == "POST"
        assert record.event.error
        assert record.event.response is None


# --- API keys ------------------------------------------------------------------------------


def test_it_lists_creates_and_revokes_api_keys(client, clarius_sandbox):
    (onboarding,) = client.list_api_keys()
    assert onboarding.prefix == clarius_sandbox.api_key.split(".")[0]
    assert onboarding.key is None
    created = client.create_api_key("Rotation 2025")
    assert isinstance(created, ApiKey)
    assert created.key.startswith(created.prefix + ".")
    assert created.key not in repr(created)
    assert {k.prefix for k in client.list_api_keys()} == {onboarding.prefix, created.prefix}
    client.revoke_api_key(created.prefix)
    assert [k.prefix for k in client.list_api_keys()] == [onboarding.prefix]


def test_the_new_key_works_and_can_revoke_the_old_one(client, clarius_sandbox):
    created = client.create_api_key("Next")
    rotated = ServiceClient(
        clarius_sandbox.api_url, created.key, allow_http=True, retry=RetryPolicy(retries=0)
    )
    rotated.revoke_api_key(clarius_sandbox.api_key.split(".")[0])
    assert [k.prefix for k in rotated.list_api_keys()] == [created.prefix]


def test_a_key_cannot_revoke_itself(client, clarius_sandbox, session):
    with pytest.raises(InvalidParameter):
        client.revoke_api_key(clarius_sandbox.api_key.split(".")[0])
    assert session.sent == []


def test_revoking_an_unknown_key_is_not_found(client):
    with pytest.raises(NotFound):
        client.revoke_api_key("ZZZZZZZZ")


# --- applications ------------------------------------------------------------------------


def test_it_lists_exam_applications(client):
    applications = client.list_exam_applications()
    assert "Abdomen" in {a.name for a in applications}
    assert all(a.uuid for a in applications)


def test_it_manages_annotation_customisations(client):
    cardiac = next(a for a in client.list_exam_applications() if a.name == "Cardiac")
    assert client.list_application_customisations() == []
    groups = [
        AnnotationGroup("Our special annotations", ["LABEL1", "LABEL2"], linked=False),
        {"title": "Views", "labels": ["PLAX", "A4C"], "linked": True},
    ]
    saved = client.put_application_customisation(cardiac.uuid, groups)
    assert saved.name == "Cardiac"
    assert [g.title for g in saved.annotations] == ["Our special annotations", "Views"]
    assert saved.annotations[1].linked is True
    assert client.get_application_customisation(cardiac.uuid) == saved
    assert [c.uuid for c in client.list_application_customisations()] == [cardiac.uuid]
    client.delete_application_customisation(cardiac.uuid)
    assert client.list_application_customisations() == []


def test_an_unknown_application_is_not_found(client):
    with pytest.raises(NotFound):
        client.get_application_customisation("00000000-0000-0000-0000-000000000000")


@pytest.mark.parametrize(
    "group",
    [{"title": 1, "labels": []}, {"title": "t", "labels": "A,B"}, {"title": "t", "linked": "no"}],
)
def test_malformed_annotation_groups_are_refused_before_sending(client, session, group):
    with pytest.raises(InvalidParameter):
        client.put_application_customisation("00000000-0000-0000-0000-000000000000", [group])
    assert session.sent == []
