"""The media origin: signed links, content types, generated media, streaming."""

import hashlib
import io
import time
import tracemalloc
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import requests
from PIL import Image

from clarius_sandbox import video


@pytest.fixture
def capture_urls(clarius_sandbox, sandbox_api):
    submission = clarius_sandbox.upload_exam(
        clarius_sandbox.add_user("Ann"), captures=1, videos=1, notify=False
    )
    return [c["url"] for c in sandbox_api.get(submission.download_url).json()["captures"]]


def test_media_lives_on_another_origin_than_the_api(clarius_sandbox, capture_urls):
    media = urlsplit(clarius_sandbox.media_origin)
    api = urlsplit(clarius_sandbox.api_origin)
    assert (media.scheme, media.hostname) == (api.scheme, api.hostname)
    assert media.port != api.port
    assert all(url.startswith(clarius_sandbox.media_origin + "/") for url in capture_urls)


def test_an_image_capture_is_a_jpeg_of_a_fan(capture_urls):
    r = requests.get(capture_urls[0], timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/jpeg"
    assert int(r.headers["Content-Length"]) == len(r.content)
    picture = Image.open(io.BytesIO(r.content))
    assert (picture.format, picture.size, picture.mode) == ("JPEG", (640, 480), "L")
    # Black outside the sector, speckled tissue inside it.
    pixels = np.asarray(picture, dtype=float)
    assert pixels[380:, :60].mean() < 10
    assert pixels[100:450, 220:420].mean() > 60
    assert pixels[100:450, 220:420].std() > 20


def test_the_same_capture_downloads_identically(capture_urls):
    first = requests.get(capture_urls[0], timeout=10).content
    second = requests.get(capture_urls[0], timeout=10).content
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


def test_a_video_capture_is_an_h264_mp4(capture_urls):
    r = requests.get(capture_urls[1], timeout=10)
    assert r.headers["Content-Type"] == "video/mp4"
    assert r.content[4:8] == b"ftyp"
    assert b"moov" in r.content[:4096]  # index up front: plays while downloading
    assert b"avc1" in r.content


def test_a_clip_has_frames_of_a_moving_sector():
    import av

    data = video.clip_pool.clip(1)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert 20 <= len(frames) <= 40
    assert (frames[0] != frames[len(frames) // 2]).any()


def test_a_tampered_signature_is_403(capture_urls):
    url = capture_urls[0]
    r = requests.get(url.replace("Signature=", "Signature=0"), timeout=10)
    assert r.status_code == 403
    assert r.headers["Content-Type"] == "application/xml"  # as S3 sends it, no charset
    assert b"<Code>AccessDenied</Code>" in r.content


def test_a_link_without_signature_is_403(capture_urls):
    assert requests.get(capture_urls[0].split("?")[0], timeout=10).status_code == 403


def test_a_changed_expiry_breaks_the_signature(capture_urls):
    parts = urlsplit(capture_urls[0])
    query = parse_qs(parts.query)
    later = int(query["Expires"][0]) + 3600
    url = f"{parts.scheme}://{parts.netloc}{parts.path}?Expires={later}&Signature={query['Signature'][0]}"
    r = requests.get(url, timeout=10)
    assert r.status_code == 403
    assert b"signature" in r.content


def test_an_expired_link_is_403(clarius_sandbox, capture_urls):
    path = urlsplit(capture_urls[0]).path
    expired = clarius_sandbox.signer.sign(path, ttl=-1)
    r = requests.get(expired, timeout=10)
    assert r.status_code == 403
    assert b"Request has expired" in r.content


def test_links_expire_after_the_capture_ttl(clarius_sandbox, sandbox_api):
    clarius_sandbox.state.capture_link_ttl = -1  # every link is born expired
    submission = clarius_sandbox.upload_exam(
        clarius_sandbox.add_user("Ann"), captures=1, videos=0, notify=False
    )
    url = sandbox_api.get(submission.download_url).json()["captures"][0]["url"]
    assert requests.get(url, timeout=10).status_code == 403


def test_capture_links_live_15_minutes_by_default(capture_urls):
    expires = int(parse_qs(urlsplit(capture_urls[0]).query)["Expires"][0])
    assert 14 * 60 <= expires - time.time() <= 15 * 60


def test_sending_a_credential_to_the_media_origin_is_refused_and_recorded(
    clarius_sandbox, capture_urls
):
    headers = {"Authorization": f"Service-API-Key {clarius_sandbox.api_key}"}
    r = requests.get(capture_urls[0], headers=headers, timeout=10)
    assert r.status_code == 400
    assert b"InvalidArgument" in r.content
    (leak,) = clarius_sandbox.state.leaked_credentials
    assert leak["scheme"] == "Service-API-Key"
    assert clarius_sandbox.api_key not in str(leak)


def test_an_unknown_object_is_404(clarius_sandbox):
    path = "/clarius-exports/captures/6b0f6a4e-0000-4000-8000-000000000000.jpg"
    r = requests.get(clarius_sandbox.signer.sign(path, ttl=60), timeout=10)
    assert r.status_code == 404
    assert b"NoSuchKey" in r.content


def test_a_big_capture_streams_without_buffering(clarius_sandbox, sandbox_api):
    size = 20 * 1024 * 1024 + 123
    submission = clarius_sandbox.upload_exam(
        clarius_sandbox.add_user("Ann"), captures=0, videos=0, capture_size=size, notify=False
    )
    (capture,) = sandbox_api.get(submission.download_url).json()["captures"]
    video.clip_pool.clip(0)  # the clip at its head is made once per machine, not measured here
    tracemalloc.start()
    try:
        with requests.get(capture["url"], stream=True, timeout=10) as r:
            assert r.headers["Content-Length"] == str(size)
            assert r.headers["Content-Type"] == "video/mp4"
            received, head, peak = 0, b"", 0
            for chunk in r.iter_content(256 * 1024):
                head = head or chunk[:16]
                received += len(chunk)
                # Sampled while streaming: once the client hangs up, werkzeug's dev server
                # drains the socket with one 10 MB read() buffer, unrelated to the body.
                peak = max(peak, tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    assert received == size
    assert head[4:8] == b"ftyp"
    # Server and client share this process: both together stay far below the 20 MB body.
    assert peak < 5 * 1024 * 1024, f"peak traced memory {peak / 1e6:.1f} MB"


def test_a_padded_capture_is_a_playable_mp4_of_the_exact_size():
    size = video.padded_mp4_size_floor() + 1000
    data = b"".join(video.stream_padded_capture(size))
    assert len(data) == size
    clip = video.clip_pool.clip(0)
    assert data.startswith(clip)
    tail = data[len(clip) :]
    assert tail[4:8] == b"free"
    assert int.from_bytes(tail[8:16], "big") == len(tail)


def test_a_tiny_capture_size_is_still_exact():
    assert len(b"".join(video.stream_padded_capture(10))) == 10
