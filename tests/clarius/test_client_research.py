"""ResearchClient against the sandbox: token login, raw data, DICOM export and downloads."""

import tarfile

import pytest
import requests

from integrations.clarius.api.client import DICOM_DEMOGRAPHICS, DICOM_SYNTAXES, ResearchClient
from integrations.clarius.api.errors import (
    BadRequest,
    Forbidden,
    InvalidParameter,
    NotFound,
    Unauthorized,
)
from integrations.clarius.api.transport import RetryPolicy


@pytest.fixture
def research(clarius_sandbox):
    return ResearchClient(
        clarius_sandbox.api_url,
        media_origins=[clarius_sandbox.media_origin],
        allow_http=True,
        retry=RetryPolicy(retries=0),
    )


@pytest.fixture
def logged_in(research, clarius_sandbox):
    research.authenticate(clarius_sandbox.research_username, clarius_sandbox.research_password)
    return research


def research_exam(sandbox, bundle=True, **kwargs):
    user = sandbox.add_user("Rita", research_bundle=bundle)
    return sandbox.upload_exam(user, notify=False, **kwargs)


def test_it_logs_in_and_keeps_the_token_masked(research, clarius_sandbox):
    token = research.authenticate(
        clarius_sandbox.research_username, clarius_sandbox.research_password
    )
    assert token == clarius_sandbox.research_token
    assert research.token == token
    assert token not in repr(research)


def test_bad_research_credentials_are_unauthorized_and_not_echoed(research, clarius_sandbox):
    with pytest.raises(Unauthorized) as excinfo:
        research.authenticate(clarius_sandbox.research_username, "wrong-password-123")
    error = excinfo.value
    assert error.status == 400
    assert error.permanent is True
    for text in (str(error), repr(error), error.body_excerpt):
        assert "wrong-password-123" not in text


def test_it_needs_a_token_before_research_calls(research):
    with pytest.raises(InvalidParameter):
        research.list_raw_data("x")


def test_a_wrong_token_is_unauthorized(clarius_sandbox):
    token = "e11f11a1" + "0" * 56
    client = ResearchClient(clarius_sandbox.api_url, token, allow_http=True)
    with pytest.raises(Unauthorized) as excinfo:
        client.list_raw_data("00000000-0000-4000-8000-000000000000")
    assert token not in str(excinfo.value) and token not in repr(excinfo.value)


def test_it_lists_raw_data_with_the_blob_parsed(logged_in, clarius_sandbox):
    submission = research_exam(clarius_sandbox, captures=2, videos=0)
    items = logged_in.list_raw_data(submission.exam_uuid)
    assert len(items) == 2
    item = items[0]
    assert item.blob_error is None
    meta = item.metadata
    assert meta.id == item.capture_uuid
    assert meta.exam_id == submission.exam_uuid
    assert meta.date_time is not None and meta.date_time.utcoffset() is not None
    assert meta.probe_model and meta.probe_serial
    stream = meta.sections[0].streams[0]
    assert stream.size.samples_per_line == 1078
    assert stream.size.number_of_lines == 192
    assert stream.size.sample_size_bytes == 1
    assert (stream.type, stream.compression) == ("B pre-scan", "jpeg")
    assert stream.sampling_rate_hz == pytest.approx(7.5438596491228074e6)
    acoustic = meta.sections[0].acoustic
    assert acoustic.mi > 0 and acoustic.tib > 0 and acoustic.tis > 0


def test_it_downloads_raw_data_without_credentials(logged_in, clarius_sandbox, tmp_path):
    submission = research_exam(clarius_sandbox, captures=1, videos=0)
    (item,) = logged_in.list_raw_data(submission.exam_uuid)
    result = logged_in.download_media(item.raw_image, tmp_path / "raw.tar")
    with tarfile.open(result.path) as archive:
        assert any(name.endswith("_env.raw") for name in archive.getnames())
    assert clarius_sandbox.state.leaked_credentials == []


def test_raw_data_errors_map_to_their_classes(logged_in, clarius_sandbox):
    with pytest.raises(NotFound):
        logged_in.list_raw_data("00000000-0000-4000-8000-000000000000")
    no_bundle = research_exam(clarius_sandbox, bundle=False)
    with pytest.raises(Forbidden) as forbidden:
        logged_in.list_raw_data(no_bundle.exam_uuid)
    assert forbidden.value.status == 403 and forbidden.value.permanent
    processing = research_exam(clarius_sandbox, processing=True)
    with pytest.raises(BadRequest) as still:
        logged_in.list_raw_data(processing.exam_uuid)
    assert still.value.still_processing is True
    assert still.value.permanent is False


def test_it_exports_dicom_with_every_parameter(logged_in, clarius_sandbox, tmp_path):
    submission = research_exam(clarius_sandbox, captures=1, videos=0)
    export = logged_in.export_dicom(
        submission.exam_uuid,
        syntax="jpeg ls lossless",
        b_image_only=False,
        resolution=(800, 600),
        include_annotations=True,
        include_demographics=True,
        include_measurements=True,
        include_scan_parameters=True,
        demographics=["PATIENT_NAME", "EXAM_DATE", "PATIENT_NAME"],
        tz="America/Vancouver",
    )
    received = clarius_sandbox.state.exams[submission.exam_uuid].dicom_exports[-1].received
    assert received == {
        "syntax": "jpeg ls lossless",
        "b_image_only": False,
        "resolution": "800x600",
        "include_annotations": True,
        "include_demographics": True,
        "include_measurements": True,
        "include_scan_parameters": True,
        "demographics": ["PATIENT_NAME", "EXAM_DATE"],
        "tz": "America/Vancouver",
    }
    result = logged_in.download_media(export.download_url, tmp_path / "exam.dcm")
    assert result.sniffed_type == "application/dicom"
    assert clarius_sandbox.state.leaked_credentials == []


def test_a_dicom_export_with_no_parameters_sends_none(logged_in, clarius_sandbox):
    submission = research_exam(clarius_sandbox)
    assert logged_in.export_dicom(submission.exam_uuid).download_url
    received = clarius_sandbox.state.exams[submission.exam_uuid].dicom_exports[-1].received
    assert received == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"syntax": "jpeg lossless nonhierarchical process 14"},  # the dictionary spelling
        {"syntax": "jpeg"},
        {"resolution": "1024*768"},
        {"resolution": "1024x"},
        {"resolution": "0x768"},
        {"resolution": "-1x768"},
        {"resolution": (1024,)},
        {"resolution": (1024.0, 768)},
        {"demographics": ["PATIENT_NAME", "SHOE_SIZE"]},
        {"demographics": "PATIENT_NAME"},
        {"include_annotations": "yes"},
        {"b_image_only": 1},
        {"tz": "Mars/Olympus_Mons"},
        {"tz": "../../etc/passwd"},
    ],
)
def test_dicom_parameters_are_validated_before_sending(logged_in, clarius_sandbox, kwargs):
    submission = research_exam(clarius_sandbox)
    with pytest.raises(InvalidParameter):
        logged_in.export_dicom(submission.exam_uuid, **kwargs)
    assert clarius_sandbox.state.exams[submission.exam_uuid].dicom_exports == []


def test_every_documented_syntax_and_demographic_is_accepted(logged_in, clarius_sandbox):
    submission = research_exam(clarius_sandbox)
    for syntax in DICOM_SYNTAXES:
        logged_in.export_dicom(
            submission.exam_uuid, syntax=syntax, demographics=list(DICOM_DEMOGRAPHICS)
        )
    assert len(clarius_sandbox.state.exams[submission.exam_uuid].dicom_exports) == 2


def test_a_dicom_parameter_the_server_refuses_is_a_bad_request(logged_in, clarius_sandbox):
    submission = research_exam(clarius_sandbox)
    with pytest.raises(BadRequest) as excinfo:
        logged_in.export_dicom(submission.exam_uuid, resolution="99999x99999")
    assert excinfo.value.still_processing is False
    assert excinfo.value.permanent is True
    assert "resolution" in excinfo.value.body_excerpt


def test_the_research_client_talks_to_the_sandbox_with_a_given_token(clarius_sandbox):
    client = ResearchClient(
        clarius_sandbox.api_url, clarius_sandbox.research_token, allow_http=True
    )
    submission = research_exam(clarius_sandbox, captures=1, videos=0)
    assert len(client.list_raw_data(submission.exam_uuid)) == 1
    assert isinstance(client.transport.session, requests.Session)
