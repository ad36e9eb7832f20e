"""A local Orthanc to send to: the demo's PACS, the tests' and the benchmark's.

Orthanc (Debian ``orthanc`` and ``orthanc-dicomweb``) runs as a child process with its
own storage folder, on loopback ports, its DICOMweb plugin loaded, so the portal's C-STORE
and STOW-RS go to a real archive. Not used by the portal itself: a hospital's PACS is
wherever its destination says.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import requests

PLUGIN_FOLDERS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc")
DICOMWEB_PLUGIN = "libOrthancDicomWeb.so"


def binary() -> str | None:
    """Orthanc's executable, or None when it is not installed."""
    return shutil.which("Orthanc") or next(
        (p for p in ("/usr/sbin/Orthanc", "/usr/bin/Orthanc") if os.access(p, os.X_OK)), None
    )


def dicomweb_plugin() -> str | None:
    for folder in PLUGIN_FOLDERS:
        path = Path(folder) / DICOMWEB_PLUGIN
        if path.exists():
            return str(path)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalOrthanc:
    """``with LocalOrthanc(folder) as pacs: pacs.rest("/studies")``.

    ``aet``: Orthanc's own AE title; it refuses associations called with any other
    (``DicomCheckCalledAet``), as a hospital PACS would.
    """

    def __init__(
        self,
        folder: Path,
        *,
        aet: str = "ORTHANC",
        http_port: int | None = None,
        dicom_port: int | None = None,
        name: str = "Local PACS",
    ):
        self.folder = Path(folder)
        self.aet = aet
        self.http_port = http_port or free_port()
        self.dicom_port = dicom_port or free_port()
        self.name = name
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def config(self) -> dict:
        plugin = dicomweb_plugin()
        return {
            "Name": self.name,
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "DicomCheckCalledAet": True,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "HttpServerEnabled": True,
            # Every modality may store (a hospital lists its modalities; here any AE may).
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowEcho": True,
            "UnknownSopClassAccepted": True,
            "StorageCompression": False,
            "Plugins": [plugin] if plugin else [],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }

    def start(self, timeout: float = 30) -> LocalOrthanc:
        executable = binary()
        if executable is None:
            raise FileNotFoundError(
                "Orthanc is not installed (Debian: apt-get install orthanc orthanc-dicomweb)"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "orthanc.json"
        config.write_text(json.dumps(self.config(), indent=2))
        self.log = open(self.folder / "orthanc.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [executable, str(config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"Orthanc exited with {self.process.returncode}; see {self.folder}/orthanc.log"
                )
            try:
                if requests.get(f"{self.url}/system", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"Orthanc did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        log = getattr(self, "log", None)
        if log is not None:
            log.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def rest(self, path: str, **kwargs):
        """GET Orthanc's REST API and return the JSON."""
        response = requests.get(f"{self.url}{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def raw(self, path: str) -> bytes:
        response = requests.get(f"{self.url}{path}", timeout=30)
        response.raise_for_status()
        return response.content

    def __enter__(self) -> LocalOrthanc:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
