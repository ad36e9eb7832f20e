"""Research API raw data (§10): the metadata ``blob`` and the downloadable raw archive.

The blob copies the reference's shape key for key ("date and time", "exam id", ...,
numbers as floats, units inside strings) because research code parses it as is. The
archive is a tar like the one Clarius' raw-data export produces: the envelope (B
pre-scan) lines of one frame and a YAML description of them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import tarfile
from typing import Any

import numpy as np

from .state import SandboxCapture, SandboxExam

SAMPLES_PER_LINE = 1078
NUMBER_OF_LINES = 192
SAMPLING_RATE_MHZ = 7.5438596491228074
# A Clarius scanner writes local time with its UTC offset; the sandbox's scanners sit in
# Vancouver, like the vendor's example ("-08:00").
SCANNER_TZ = dt.timezone(dt.timedelta(hours=-8))


def _files(capture: SandboxCapture) -> list[str]:
    stem = capture.capture_uuid
    return [f"{stem}_env.raw", f"{stem}_env.yml", f"{stem}_env.tgc.yml"]


def blob(capture: SandboxCapture, exam: SandboxExam) -> str:
    rng = random.Random(capture.seed)  # noqa: S311 -- reproducible fake data, not secrets
    taken = capture.created_at.astimezone(SCANNER_TZ)
    stamp = taken.isoformat(timespec="milliseconds")
    document: dict[str, Any] = {
        "id": "{" + capture.capture_uuid + "}",
        "date and time": stamp,
        "exam id": "{" + exam.exam_uuid + "}",
        "probe serial": exam.probe_serial,
        "probe model": exam.probe_model,
        "sections": [
            {
                "files": _files(capture),
                "streams": [
                    {
                        "stream id": 0.0,
                        "info": {
                            "size": {
                                "samples per line": float(SAMPLES_PER_LINE),
                                "number of lines": float(NUMBER_OF_LINES),
                                "sample size": "1 bytes",
                            },
                            "type": "B pre-scan",
                            "compression": "jpeg",
                            "sampling rate": f"{SAMPLING_RATE_MHZ} MHz",
                            "frame rate": f"{rng.choice([12.0, 15.0, 20.0, 24.0])} Hz",
                            "frames": 1.0,
                        },
                    }
                ],
                "acoustic": {
                    "mi": round(rng.uniform(0.4, 1.3), 3),
                    "tib": round(rng.uniform(0.1, 0.9), 3),
                    "tis": round(rng.uniform(0.1, 0.6), 7),
                },
            }
        ],
    }
    return json.dumps(document)


def raw_archive(capture: SandboxCapture, exam: SandboxExam) -> bytes:
    """A small tar: one frame of 8-bit envelope data plus its YAML headers."""
    rng = np.random.default_rng(capture.seed)
    depth = np.linspace(1.0, 0.25, SAMPLES_PER_LINE, dtype=np.float32)
    lines = rng.rayleigh(1.0, (NUMBER_OF_LINES, SAMPLES_PER_LINE)).astype(np.float32) * depth
    envelope = np.clip(lines * 90, 0, 255).astype(np.uint8).tobytes()
    stem = capture.capture_uuid
    header = (
        f"probe: {exam.probe_model}\n"
        f"serial: {exam.probe_serial}\n"
        f"frames: 1\n"
        f"size:\n  samples per line: {SAMPLES_PER_LINE}\n  number of lines: {NUMBER_OF_LINES}\n"
        f"  sample size: 1 bytes\n"
        f"sampling rate: {SAMPLING_RATE_MHZ} MHz\n"
        f"type: B pre-scan\n"
    ).encode()
    tgc = b"timestamp: 0\n- { 0.00mm, 10.00dB }\n- { 120.00mm, 30.00dB }\n"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in (
            (f"{stem}_env.raw", envelope),
            (f"{stem}_env.yml", header),
            (f"{stem}_env.tgc.yml", tgc),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(capture.created_at.timestamp())
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()
