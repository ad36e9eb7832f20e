"""Running the test provider for a test module, or skipping with the reason it cannot run."""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.services import closed_port

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "portal"


class Provider:
    def __init__(self, process, port, folder, token, secret):
        self.process = process
        self.issuer = f"http://127.0.0.1:{port}/o"
        self.origin = f"http://127.0.0.1:{port}"
        self.folder = folder
        self.token = token
        self.client_id = CLIENT_ID
        self.client_secret = secret

    def _post(self, path, data):
        response = requests.post(
            self.origin + path, json=data, headers={"X-Test-Token": self.token}, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def register_portal(self, portal_origin):
        """The portal's callback and where the provider's logout sends the browser back."""
        self._post(
            "/test/client/",
            {
                "redirect_uris": f"{portal_origin}/accounts/sso/callback/",
                "post_logout_redirect_uris": f"{portal_origin}/accounts/login/",
            },
        )

    def add_person(self, username, password, **claims):
        """A person at the provider; returns their subject."""
        return self._post(
            "/test/people/", {"username": username, "password": password, "claims": claims}
        )["sub"]

    def settings(self, **extra):
        """The portal's settings for this provider (as portal.sso.conf would read them)."""
        return {
            "PORTAL_SSO_ENABLED": True,
            "PORTAL_OIDC_ISSUER": self.issuer,
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            **extra,
        }

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start(id_token_seconds=300):
    """The provider on a free loopback port, ready; skips the test when it cannot run."""
    try:
        import oauth2_provider  # noqa: F401
    except ImportError:
        pytest.skip("django-oauth-toolkit is not installed (pip install -e '.[dev]')")
    folder = Path(tempfile.mkdtemp(prefix="portal-oidc-"))
    token, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    port = closed_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "PORTAL_"))
    }
    env.update(
        OIDC_PROVIDER_DIR=str(folder),
        OIDC_PROVIDER_TOKEN=token,
        OIDC_PROVIDER_SECRET=secret,
        OIDC_PROVIDER_ID_TOKEN_SECONDS=str(id_token_seconds),
        PYTHONPATH=str(ROOT),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.oidc_provider.run", str(port)],
        cwd=ROOT,
        env=env,
        stdout=(folder / "provider.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    provider = Provider(process, port, folder, token, secret)
    deadline = time.monotonic() + 30
    problem = "did not answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            problem = f"exited with {process.returncode}: " + _tail(folder)
            break
        try:
            url = f"{provider.issuer}/.well-known/openid-configuration"
            if requests.get(url, timeout=2).status_code == 200:
                return provider
        except requests.RequestException as e:
            problem = str(e)
        time.sleep(0.2)
    provider.stop()
    pytest.skip(f"the test OpenID Connect provider could not start: {problem}")


def _tail(folder):
    try:
        return (folder / "provider.log").read_text(errors="replace")[-1500:]
    except OSError:
        return ""
