"""Typed results: optional and unknown fields, and the research raw-data blob."""

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from integrations.clarius.api.documents import (
    ApiKey,
    ExamData,
    ExamDownload,
    NotificationRecord,
    RawDataCapture,
    parse_capture_metadata,
)
from integrations.clarius.api.errors import InvalidResponse

BLOB = {
    "id": "{a821fa45-0000-4000-8000-000000000001}",
    "date and time": "2021-09-15T13:43:00.943-08:00",
    "exam id": "{46805f86-0000-4000-8000-000000000002}",
    "probe serial": "PROBE-SERIAL",
    "probe model": "EXAMPLE-MODELNUMBER",
    "sections": [
        {
            "files": ["a_env.raw"],
            "streams": [
                {
                    "stream id": 0.0,
                    "info": {
                        "size": {
                            "samples per line": 1078.0,
                            "number of lines": 192.0,
                            "sample size": "1 bytes",
                        },
                        "type": "B pre-scan",
                        "compression": "jpeg",
                        "sampling rate": "7.5438596491228074 MHz",
                        "frame rate": "20.0 Hz",
                    },
                }
            ],
            "acoustic": {"mi": 1.001, "tib": 0.266, "tis": 0.2350692},
        }
    ],
    "future field": 1,
}


def test_it_parses_the_reference_blob():
    meta = parse_capture_metadata(json.dumps(BLOB))
    assert meta.id == "a821fa45-0000-4000-8000-000000000001"
    assert meta.exam_id == "46805f86-0000-4000-8000-000000000002"
    assert meta.date_time == datetime(2021, 9, 15, 13, 43, 0, 943000, timezone(timedelta(hours=-8)))
    assert (meta.probe_serial, meta.probe_model) == ("PROBE-SERIAL", "EXAMPLE-MODELNUMBER")
    assert meta.extra == {"future field": 1}
    section = meta.sections[0]
    assert section.files == ["a_env.raw"]
    stream = section.streams[0]
    assert stream.stream_id == 0
    assert stream.size.samples_per_line == 1078
    assert stream.size.number_of_lines == 192
    assert stream.size.sample_size_bytes == 1
    assert (stream.type, stream.compression) == ("B pre-scan", "jpeg")
    assert stream.sampling_rate_hz == pytest.approx(7_543_859.6491228074)
    assert stream.extra == {"info": {"frame rate": "20.0 Hz"}}
    assert (section.acoustic.mi, section.acoustic.tib, section.acoustic.tis) == (
        1.001,
        0.266,
        0.2350692,
    )


@pytest.mark.parametrize(
    "blob, reason",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"sections": "nope"}), "sections is not a list"),
        (json.dumps({"sections": [{"streams": [1]}]}), "stream is not an object"),
        ("[" * 5000 + "]" * 5000, "nested deeper than 64 levels"),
        ('{"id": 1e999, "x": ' + "1" * 5000 + "}", "out of range"),
    ],
)
def test_a_malformed_blob_keeps_the_raw_string_and_the_reason(blob, reason):
    item = RawDataCapture.from_json({"capture_uuid": "c1", "blob": blob, "raw_image": "u"})
    assert item.metadata is None
    assert item.blob_raw == blob
    assert reason in item.blob_error
    assert item.raw_image == "u"


def test_odd_values_in_the_blob_go_to_extra_instead_of_being_guessed():
    blob = dict(BLOB, **{"date and time": "yesterday", "probe model": 7})
    meta = parse_capture_metadata(json.dumps(blob))
    assert meta.date_time is None and meta.probe_model is None
    assert meta.extra["date and time"] == "yesterday"
    assert meta.extra["probe model"] == 7


def test_exam_data_keeps_unknown_fields_and_tolerates_missing_ones():
    data = ExamData.from_json(
        {
            "request_uuid": "r1",
            "patient": {"identifier": "12345", "date_of_birth": "1970-01-01", "shoe_size": 44},
            "captures": [{"url": "https://x/y.jpg", "kind": "image"}],
            "exam_notes": "new field",
        }
    )
    assert data.patient.date_of_birth == date(1970, 1, 1)
    assert data.patient.first_name is None
    assert data.patient.extra == {"shoe_size": 44}
    assert data.captures[0].extra == {"kind": "image"}
    assert data.extra == {"exam_notes": "new field"}
    assert ExamData.from_json({}).captures == []


def test_a_bad_date_of_birth_is_kept_in_extra():
    data = ExamData.from_json({"patient": {"date_of_birth": "01/02/1970"}})
    assert data.patient.date_of_birth is None
    assert data.patient.extra == {"date_of_birth": "01/02/1970"}


def test_an_exam_download_needs_its_identifiers():
    item = ExamDownload.from_json(
        {"request_uuid": "r", "download_url": "u", "submitted_at": "2022-10-22T03:10:47.231755Z"}
    )
    assert item.submitted_at == datetime(2022, 10, 22, 3, 10, 47, 231755, UTC)
    with pytest.raises(InvalidResponse):
        ExamDownload.from_json({"download_url": "u"})
    with pytest.raises(InvalidResponse):
        ExamDownload.from_json(["not", "an", "object"])


def test_a_notification_record_with_an_error_and_no_response():
    record = NotificationRecord.from_json(
        {
            "logged_at": "2023-06-01T02:15:28.331086Z",
            "event": {
                "sent_at": "2023-06-01T02:15:23.435871Z",
                "request": {"url": "https://example.com", "method": "POST", "content": "{}"},
                "response": None,
                "error": "timed out",
            },
        }
    )
    assert record.event.error == "timed out"
    assert record.event.request.method == "POST"
    assert record.event.status_code is None


def test_an_api_key_repr_masks_the_secret():
    key = ApiKey.from_json(
        {"prefix": "ghhni3x8", "name": "n", "key": "ghhni3x8.aToALr2FC8A7toD11Cj902BLtTuLSZEr"}
    )
    assert "aToALr2FC8A7toD11Cj902BLtTuLSZEr" not in repr(key)
    assert "ghhni3x8.***" in repr(key)


@pytest.mark.parametrize(
    "content",
    ["[" * 5000 + "]" * 5000, '{"request_uuid": "a", "request_uuid": "b"}', '{"x": NaN}'],
)
def test_a_logged_body_the_webhook_would_refuse_is_not_a_notification(content):
    from integrations.clarius.account.records import download_of, request_uuid_of
    from integrations.clarius.api.documents import NotificationRecord

    record = NotificationRecord.from_json({"event": {"request": {"content": content}}})
    assert request_uuid_of(record.event) is None
    assert download_of(record) is None
