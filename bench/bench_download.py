"""Benchmark: the client's streaming media download against a plain ``requests`` stream.

Run ``python bench/bench_download.py`` (no Django needed). It starts the Clarius sandbox
in a subprocess, submits an exam with one 200 MB capture, and downloads that capture
twice, each time in a fresh child process so each peak RSS is clean and the server's
memory is never counted:

* ``plain``  — ``requests.get(stream=True)`` + ``iter_content(64 KiB)`` to a file;
* ``plain+sha256+fsync`` — the same, also hashing and fsyncing (what the client must do);
* ``client`` — ``ServiceClient.download_media`` (origin guard, cap, SHA-256, sniffing,
  fsync and atomic rename).

It prints throughput (MB/s), the client/plain ratio and each child's peak RSS growth
during the download, and exits 1 if the client's RSS grew by more than 50 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path; its modules must only ever be
# imported as bench.<name>.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.lib import ROOT  # noqa: E402
from bench.lib.meters import RssSampler, max_rss_bytes  # noqa: E402
from bench.lib.report import Column, Table  # noqa: E402

MB = 1024 * 1024
CAPTURE_SIZE = 200 * MB
RSS_LIMIT = 50 * MB
CHUNK = 64 * 1024
RUNS = 3

# The sandbox child: start, submit one exam with the big capture, print what the
# downloaders need as one JSON line, then serve until its stdin closes.
SANDBOX = """
import json, sys
from clarius_sandbox import Sandbox

sandbox = Sandbox(notification_workers=False).start()
user = sandbox.add_user("Bench")
sandbox.state.confirm(user.customer_token)
submission = sandbox.upload_exam(
    user, captures=0, videos=0, capture_size=int(sys.argv[1]), notify=False
)
print(json.dumps({
    "api_url": sandbox.api_url,
    "api_key": sandbox.api_key,
    "media_origin": sandbox.media_origin,
    "download_url": submission.download_url,
}), flush=True)
sys.stdin.read()
sandbox.stop()
"""


def download_plain(url: str, destination: Path, *, hash_and_sync: bool = False) -> int:
    import hashlib

    import requests

    size = 0
    digest = hashlib.sha256()
    with requests.get(url, stream=True, timeout=(5, 120)) as response:
        response.raise_for_status()
        with destination.open("wb") as out:
            for chunk in response.iter_content(CHUNK):
                out.write(chunk)
                size += len(chunk)
                if hash_and_sync:
                    digest.update(chunk)
            if hash_and_sync:
                out.flush()
                os.fsync(out.fileno())
    return size


def download_client(job: dict, destination: Path) -> int:
    from integrations.clarius.api.client import ServiceClient

    client = ServiceClient(
        job["api_url"],
        job["api_key"],
        media_origins=[job["media_origin"]],
        allow_http=True,
        max_media_bytes=CAPTURE_SIZE + MB,
    )
    return client.download_media(job["url"], destination).size


def worker(mode: str, job: dict) -> None:
    """One measured download in this (fresh) process; prints a JSON result line."""
    import requests  # noqa: F401 - imported before the baseline, as in a real worker

    import integrations.clarius.api.client  # noqa: F401

    destination = Path(job["directory"]) / f"{mode}.bin"
    maxrss_before = max_rss_bytes()
    with RssSampler() as sampler:
        started = time.perf_counter()
        if mode == "plain":
            size = download_plain(job["url"], destination)
        elif mode == "plain+sha256+fsync":
            size = download_plain(job["url"], destination, hash_and_sync=True)
        else:
            size = download_client(job, destination)
        elapsed = time.perf_counter() - started
    destination.unlink()
    result = {
        "mode": mode,
        "size": size,
        "seconds": elapsed,
        "rss_growth": sampler.growth,
        "maxrss_growth": max(0, max_rss_bytes() - maxrss_before),
    }
    print(json.dumps(result))


def run_worker(mode: str, job: dict) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", mode, json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{mode} download failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _median_run(runs: list[dict]) -> dict:
    """The run with the median time, carrying the worst RSS growth of all runs."""
    ordered = sorted(runs, key=lambda run: run["seconds"])
    median = dict(ordered[len(ordered) // 2])
    median["rss_growth"] = max(run["rss_growth"] for run in runs)
    median["maxrss_growth"] = max(run["maxrss_growth"] for run in runs)
    return median


def capture_url(info: dict) -> str:
    from integrations.clarius.api.client import ServiceClient

    client = ServiceClient(
        info["api_url"], info["api_key"], media_origins=[info["media_origin"]], allow_http=True
    )
    return client.get_exam_data(info["download_url"]).captures[-1].url


TABLE = Table(
    Column("mode", 19, left=True),
    Column("MB", 6, ".0f"),
    Column("seconds", 8, ".2f"),
    Column("MB/s", 8, ".1f"),
    Column("RSS growth", 12, ".1f", suffix=" MB"),
    Column("ru_maxrss growth", 17, ".1f", suffix=" MB"),
)


def main() -> int:
    sandbox = subprocess.Popen(
        [sys.executable, "-c", SANDBOX, str(CAPTURE_SIZE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        line = sandbox.stdout.readline() if sandbox.stdout else ""
        if not line:
            raise SystemExit("the sandbox did not start")
        info = json.loads(line)
        with tempfile.TemporaryDirectory(prefix="bench-download-") as directory:
            job = {**info, "url": capture_url(info), "directory": directory}
            # Warm up the sandbox's media path (its video clip is built on first use).
            run_worker("plain", job)
            runs: dict[str, list[dict]] = {"plain": [], "plain+sha256+fsync": [], "client": []}
            for _ in range(RUNS):  # interleaved, so a noisy moment hits both modes
                for mode in runs:
                    runs[mode].append(run_worker(mode, job))
            results = {mode: _median_run(mode_runs) for mode, mode_runs in runs.items()}
    finally:
        if sandbox.stdin:
            sandbox.stdin.close()
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()

    print(
        f"download of a {CAPTURE_SIZE // MB} MB capture from the sandbox: median of {RUNS} "
        "runs, each in a fresh process; RSS growth is the worst run"
    )
    print(TABLE.header())
    for mode, result in results.items():
        rate = result["size"] / MB / result["seconds"]
        result["rate"] = rate
        print(
            TABLE.row(
                mode, result["size"] / MB, result["seconds"], rate,
                result["rss_growth"] / MB, result["maxrss_growth"] / MB,
            )
        )  # fmt: skip
    ratio = results["client"]["rate"] / results["plain"]["rate"]
    like_for_like = results["client"]["rate"] / results["plain+sha256+fsync"]["rate"]
    print(f"client/plain throughput ratio: {ratio:.2f}")
    print(f"client/(plain+sha256+fsync) ratio: {like_for_like:.2f}")
    growth = max(results["client"]["rss_growth"], results["client"]["maxrss_growth"])
    if growth > RSS_LIMIT:
        print(f"FAIL: client peak RSS grew {growth / MB:.1f} MB (limit {RSS_LIMIT // MB} MB)")
        return 1
    print(f"OK: client peak RSS growth {growth / MB:.1f} MB <= {RSS_LIMIT // MB} MB")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], json.loads(sys.argv[3]))
    else:
        sys.exit(main())
