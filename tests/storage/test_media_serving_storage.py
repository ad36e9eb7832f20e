"""Media served from the storage: ranges read from it (a ranged GET on S3), or a 302 to a
presigned URL once the portal has authorised and audited the request."""

import os

import pytest
import requests
from django.urls import reverse

from portal import storage as store
from portal.exams.models import AuditEvent
from tests.factories import add_stored_capture, make_exam

CLIP = os.urandom(300_000)


@pytest.fixture
def clip(storage, northside, bob):
    exam = make_exam(northside, bob, captures=0)
    return add_stored_capture(exam, "video/mp4", CLIP, size=len(CLIP))


def get(client, capture, **headers):
    return client.get(reverse("api-capture-media", args=[capture.pk]), **headers)


def body(response):
    return b"".join(response.streaming_content)


def test_the_whole_clip_and_its_ranges_come_from_the_storage(client, bob, clip):
    client.force_login(bob)
    whole = get(client, clip)
    assert whole.status_code == 200 and body(whole) == CLIP
    assert whole["Accept-Ranges"] == "bytes"
    for header, (start, end) in [
        ("bytes=0-9", (0, 9)),
        ("bytes=150000-", (150_000, len(CLIP) - 1)),
        ("bytes=-7", (len(CLIP) - 7, len(CLIP) - 1)),
        ("bytes=299999-400000", (299_999, 299_999)),
    ]:
        part = get(client, clip, HTTP_RANGE=header)
        assert part.status_code == 206, header
        assert body(part) == CLIP[start : end + 1]
        assert part["Content-Range"] == f"bytes {start}-{end}/{len(CLIP)}"
        assert part["Content-Length"] == str(end - start + 1)
    past = get(client, clip, HTTP_RANGE=f"bytes={len(CLIP)}-")
    assert (past.status_code, past["Content-Range"]) == (416, f"bytes */{len(CLIP)}")


def test_another_institution_gets_nothing_from_the_storage(client, charlie, clip):
    client.force_login(charlie)
    assert get(client, clip, HTTP_RANGE="bytes=0-9").status_code == 404


def test_a_redirect_goes_to_a_presigned_url_after_the_audit(
    client, bob, charlie, s3_storage, settings, northside
):
    settings.PORTAL_STORAGE_REDIRECT = True
    exam = make_exam(northside, bob, captures=0)
    clip = add_stored_capture(exam, "video/mp4", CLIP, size=len(CLIP))
    client.force_login(charlie)
    assert get(client, clip).status_code == 404  # refused before any URL is made
    client.force_login(bob)
    response = get(client, clip)
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.OPEN_MEDIA).count() == 1
    url = response["Location"]
    assert store.s3_key(clip.file) in url and "Signature" in url
    answer = requests.get(url, timeout=10)
    assert answer.content == CLIP
    # The store answers with the type the portal checked and its caching rule.
    assert answer.headers["Content-Type"] == "video/mp4"
    assert answer.headers["Cache-Control"] == "private, no-store"
    ranged = requests.get(url, headers={"Range": "bytes=5-9"}, timeout=10)
    assert (ranged.status_code, ranged.content) == (206, CLIP[5:10])


def test_a_report_download_redirects_with_its_file_name(
    client, bob, s3_storage, settings, northside
):
    from portal.reports.models import Report

    settings.PORTAL_STORAGE_REDIRECT = True
    exam = make_exam(northside, bob)
    store.save_bytes(f"{northside.pk}/{exam.exam_uuid}/reports/v001-test.pdf", b"%PDF-1.4 x")
    report = Report.objects.create(
        institution=northside,
        exam=exam,
        submission=exam.submissions.get(),
        version=1,
        name="Ultrasound report",
        file=f"{northside.pk}/{exam.exam_uuid}/reports/v001-test.pdf",
        size=10,
        source=Report.Source.UPLOADED,
        state=Report.State.PUSHED,
    )
    client.force_login(bob)
    response = client.get(reverse("report-download", args=[exam.pk, report.pk]))
    assert response.status_code == 302
    answer = requests.get(response["Location"], timeout=10)
    assert answer.content == b"%PDF-1.4 x"
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert f'filename="{report.filename}"' in answer.headers["Content-Disposition"]


def test_without_the_setting_s3_media_is_streamed_not_redirected(
    client, bob, s3_storage, northside
):
    exam = make_exam(northside, bob, captures=0)
    clip = add_stored_capture(exam, "video/mp4", CLIP, size=len(CLIP))
    client.force_login(bob)
    response = get(client, clip, HTTP_RANGE="bytes=1-3")
    assert (response.status_code, body(response)) == (206, CLIP[1:4])


def test_local_storage_never_redirects_and_keeps_the_front_server(
    client, bob, local_storage, settings, northside
):
    settings.PORTAL_STORAGE_REDIRECT = True
    settings.PORTAL_MEDIA_ACCEL_REDIRECT = "/protected-media/"
    exam = make_exam(northside, bob)
    capture = exam.captures.get()
    client.force_login(bob)
    response = get(client, capture)
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{capture.file}"


@pytest.mark.parametrize(
    ("url", "origins"),
    [
        ("s3://media?endpoint=http://127.0.0.1:8333", ["http://127.0.0.1:8333"]),
        (
            "s3://media?endpoint=https://s3.example.org&addressing=virtual",
            ["https://media.s3.example.org"],
        ),
        (
            "s3://media?region=eu-west-1",
            ["https://media.s3.amazonaws.com", "https://media.s3.eu-west-1.amazonaws.com"],
        ),
    ],
)
def test_the_csp_allows_the_origin_presigned_urls_point_at(url, origins):
    from portal.env import parse_storage_url, storage_origins

    assert storage_origins(parse_storage_url("PORTAL_STORAGE_URL", url)) == origins
