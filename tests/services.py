"""Real services the suite talks to, and what to do when one is missing.

Locally a missing service skips its tests with the reason; under CI=true the suite's
conftest turns any skip into a failure, so CI never passes without them.
"""

import os
import shutil
import socket
from urllib.parse import urlsplit

import pytest


def redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: no Redis server to test against")
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=2).close()
    except OSError as e:
        pytest.skip(f"Redis at {url} is unreachable: {e}")
    return url


def nginx():
    """The nginx binary, for tests that put the repo's config (deploy/nginx/) in front."""
    path = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if path is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    return path


def closed_port():
    """A loopback port that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def orthanc():
    """Orthanc with its DICOMweb plugin, the PACS the outbound tests send to."""
    from integrations.dicom import local_pacs

    if local_pacs.binary() is None:
        pytest.skip("Orthanc is not installed (Debian: apt-get install orthanc orthanc-dicomweb)")
    if local_pacs.dicomweb_plugin() is None:
        pytest.skip("Orthanc's DICOMweb plugin is not installed (Debian: orthanc-dicomweb)")
    return local_pacs


def tool(name: str, package: str):
    """A command-line tool from Debian (dciodvfy from dicom3tools, storescu from dcmtk)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install {package})")
    return path
