"""``python -m clarius_sandbox``: runs without Django, prints its URLs, stops on ^C."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def start(*args):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.Popen(
        [sys.executable, "-m", "clarius_sandbox", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_banner(process):
    lines = {}
    for line in process.stdout:
        if line.startswith("Press Ctrl-C"):
            return lines
        key, _, value = line.partition(":")
        lines[key.strip()] = value.strip()
    raise AssertionError(f"sandbox exited early: {process.stderr.read()}")


def test_it_runs_in_the_foreground_until_interrupted():
    key = "Q4nmtzH5.mvIzWOlklcrFJ3iWaJTFESYCzCe8j6TQ"
    process = start(
        "--api-port=0",
        "--media-port=0",
        f"--api-key={key}",
        "--notification-url=http://127.0.0.1:8000/clarius/notifications/x/",
        "--token-transfer-url=http://127.0.0.1:8000/clarius/connect/{token}/",
        "--seed-users=2",
        "--quiet",
    )
    try:
        banner = read_banner(process)
        api_url = banner["Clarius sandbox API"]
        assert api_url.endswith("/api/public/v0/")
        assert banner["Service API key"] == key
        assert sum(1 for k in banner if k.startswith("User ")) == 2
        headers = {"Authorization": f"Service-API-Key {key}"}
        settings = requests.get(api_url + "services/settings/", headers=headers, timeout=5).json()
        assert settings["token_transfer_url"].endswith("/connect/{token}/")
        assert requests.get(banner["Sandbox web page"], timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:  # never leave a sandbox behind a failed test
                process.kill()
                process.wait()


def test_it_refuses_an_invalid_token_transfer_url():
    process = start("--api-port=0", "--media-port=0", "--token-transfer-url=https://e.com/")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "{token}" in stderr
