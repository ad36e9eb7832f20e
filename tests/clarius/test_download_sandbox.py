"""Media downloads from the sandbox's media origin: big files, caps, faults, expiry."""

import hashlib
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from integrations.clarius.api.client import ServiceClient
from integrations.clarius.api.errors import Forbidden, MediaTooLarge, TransportError
from integrations.clarius.api.transport import RetryPolicy, Timeouts

MB = 1024 * 1024
CAPTURES = r"^/clarius-exports/captures/"


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(clarius_sandbox, sleeps):
    return ServiceClient(
        clarius_sandbox.api_url,
        clarius_sandbox.api_key,
        media_origins=[clarius_sandbox.media_origin],
        allow_http=True,
        sleep=sleeps.append,
        timeouts=Timeouts(connect=2, read=5, download_read=5),
    )


def capture_url(client, sandbox, **upload):
    user = sandbox.add_user("Ann")
    sandbox.state.confirm(user.customer_token)
    submission = sandbox.upload_exam(user, notify=False, **upload)
    return client.get_exam_data(submission.download_url).captures[-1].url


# Run in a child process so tracemalloc sees the client alone: the sandbox serving the
# bytes lives in this process and its own buffers would be charged to the download.
MEASURE = """
import json, sys, tracemalloc
from pathlib import Path
from integrations.clarius.api.client import ServiceClient
args = json.loads(sys.argv[1])
client = ServiceClient(args["api_url"], args["api_key"], media_origins=[args["media"]],
                       allow_http=True)
tracemalloc.start()
result = client.download_media(args["url"], Path(args["destination"]))
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"peak": peak, "size": result.size, "sha256": result.sha256,
                  "sniffed": result.sniffed_type}))
"""


def test_a_50_mb_capture_streams_in_flat_memory(client, clarius_sandbox, tmp_path):
    url = capture_url(client, clarius_sandbox, captures=0, videos=0, capture_size=50 * MB)
    args = {
        "api_url": clarius_sandbox.api_url,
        "api_key": clarius_sandbox.api_key,
        "media": clarius_sandbox.media_origin,
        "url": url,
        "destination": str(tmp_path / "big.mp4"),
    }
    completed = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["peak"] < 2 * MB, f"peak Python allocation {result['peak'] / MB:.2f} MB"
    assert result["size"] == 50 * MB == (tmp_path / "big.mp4").stat().st_size
    assert result["sniffed"] == "video/mp4"
    digest = hashlib.sha256()
    with (tmp_path / "big.mp4").open("rb") as f:
        while chunk := f.read(MB):
            digest.update(chunk)
    assert result["sha256"] == digest.hexdigest()
    assert [p.name for p in tmp_path.iterdir()] == ["big.mp4"]
    assert clarius_sandbox.state.leaked_credentials == []


def test_a_download_in_this_process_allocates_far_less_than_the_file(
    client, clarius_sandbox, tmp_path
):
    # The same check in-process: looser, as the sandbox's own buffers count here too.
    url = capture_url(client, clarius_sandbox, captures=0, videos=0, capture_size=50 * MB)
    tracemalloc.start()
    try:
        result = client.download_media(url, tmp_path / "big.mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == 50 * MB
    assert peak < 20 * MB


def test_a_capture_over_the_cap_is_refused_and_leaves_nothing(client, clarius_sandbox, tmp_path):
    url = capture_url(client, clarius_sandbox, captures=0, videos=0, capture_size=5 * MB)
    with pytest.raises(MediaTooLarge):
        client.download_media(url, tmp_path / "big.mp4", max_bytes=1 * MB)
    assert list(tmp_path.iterdir()) == []


def test_the_client_wide_cap_applies_by_default(clarius_sandbox, tmp_path):
    small = ServiceClient(
        clarius_sandbox.api_url,
        clarius_sandbox.api_key,
        media_origins=[clarius_sandbox.media_origin],
        allow_http=True,
        max_media_bytes=MB,
    )
    url = capture_url(small, clarius_sandbox, captures=0, videos=0, capture_size=2 * MB)
    with pytest.raises(MediaTooLarge):
        small.download_media(url, tmp_path / "big.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_media_503_is_retried(client, clarius_sandbox, sleeps, tmp_path):
    url = capture_url(client, clarius_sandbox, captures=1, videos=0)
    clarius_sandbox.inject(CAPTURES, "GET", status=503, count=2)
    result = client.download_media(url, tmp_path / "c.jpg")
    assert result.sniffed_type == "image/jpeg"
    assert len(sleeps) == 2


def test_a_hanging_media_server_times_out_and_leaves_nothing(clarius_sandbox, sleeps, tmp_path):
    client = ServiceClient(
        clarius_sandbox.api_url,
        clarius_sandbox.api_key,
        media_origins=[clarius_sandbox.media_origin],
        allow_http=True,
        sleep=sleeps.append,
        retry=RetryPolicy(retries=0),
        timeouts=Timeouts(connect=2, read=5, download_read=0.3),
    )
    url = capture_url(client, clarius_sandbox, captures=1, videos=0)
    clarius_sandbox.inject(CAPTURES, "GET", timeout=True)
    with pytest.raises(TransportError) as excinfo:
        client.download_media(url, tmp_path / "c.jpg")
    assert excinfo.value.timeout is True
    assert list(tmp_path.iterdir()) == []


def test_an_expired_link_is_forbidden_and_the_signature_is_not_shown(
    client, clarius_sandbox, tmp_path
):
    clarius_sandbox.state.capture_link_ttl = -60
    url = capture_url(client, clarius_sandbox, captures=1, videos=0)
    with pytest.raises(Forbidden) as excinfo:
        client.download_media(url, tmp_path / "c.jpg")
    assert "expired" in excinfo.value.body_excerpt
    signature = url.split("Signature=")[1]
    assert signature not in str(excinfo.value)
    assert list(tmp_path.iterdir()) == []
