"""Short MP4 clips of a moving B-mode sector, and the padded "huge" capture.

Clips are H.264 / yuv420p in an MP4 with the index up front, which every browser plays.
Encoding one takes a noticeable fraction of a second, so a small pool is made on first use
and kept in memory and in a temp-dir cache that later processes (the next test run, the
demo) reuse. A video capture is one pool clip chosen by its seed, tagged with its id.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from . import imaging

log = logging.getLogger(__name__)

POOL_SIZE = 3
FRAMES = 30
FPS = 15
# Bump when the picture changes so stale cache files are ignored.
CACHE_VERSION = 1
CHUNK = 1024 * 1024


def encode_clip(seed: int, frames: int = FRAMES) -> bytes:
    """A ``frames / FPS``-second clip: the probe breathes in depth, a vessel pulsates."""
    rng = np.random.default_rng(seed)
    structures = imaging.random_structures(rng)
    layer_depth = float(rng.uniform(0.08, 0.2))
    # One speckle field taller than the picture, slid up and down: tissue-bound speckle
    # moving with the tissue, as in a real clip (and far kinder to the encoder than noise).
    margin = 24
    speckle = imaging.speckle_field(rng, imaging.HEIGHT + 2 * margin, imaging.WIDTH)

    # "faststart" (index before the media, so playback starts before the download ends)
    # rewrites the file in a second pass, which needs a real file rather than BytesIO.
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "clip.mp4")
        _encode_frames(path, frames, structures, layer_depth, speckle, margin)
        with open(path, "rb") as f:
            return f.read()


def _encode_frames(
    path: str,
    frames: int,
    structures: list[imaging.Structure],
    layer_depth: float,
    speckle: np.ndarray,
    margin: int,
) -> None:
    with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = imaging.WIDTH, imaging.HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "26"}
        for number in range(frames):
            phase = 2 * np.pi * number / frames
            offset = margin + int(round(margin * 0.8 * np.sin(phase)))
            echo = imaging.echo_map(
                structures, layer_depth, shift=(0.02 * np.sin(phase), 0.03 * np.sin(2 * phase))
            )
            grey = imaging.render_frame(echo, speckle[offset : offset + imaging.HEIGHT])
            frame = av.VideoFrame.from_ndarray(np.stack([grey] * 3, axis=-1), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def is_mp4(data: bytes) -> bool:
    return len(data) > 8 and data[4:8] == b"ftyp"


class ClipPool:
    """``POOL_SIZE`` clips, each made once per machine and then served from memory."""

    def __init__(self, size: int = POOL_SIZE, cache_dir: Path | None = None) -> None:
        self.size = size
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "clarius-sandbox-media"
        self._clips: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def clip(self, seed: int) -> bytes:
        index = seed % self.size
        # One lock for all slots: two first downloads must not both spend time encoding.
        with self._lock:
            if index not in self._clips:
                self._clips[index] = self._load_or_make(index)
            return self._clips[index]

    def _load_or_make(self, index: int) -> bytes:
        path = self.cache_dir / f"clip-v{CACHE_VERSION}-{FRAMES}f-{index}.mp4"
        try:
            data = path.read_bytes()
            if is_mp4(data):
                return data
        except OSError:
            pass
        data = encode_clip(1000 + index)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            # Write then rename: a concurrent reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".part")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError as e:  # a read-only temp dir only costs speed
            log.warning("could not cache sandbox clip in %s: %s", self.cache_dir, e)
        return data


clip_pool = ClipPool()


def capture_clip(seed: int, tag: bytes) -> bytes:
    """A pool clip made one capture's own: a trailing ``free`` box (which players skip)
    holds ``tag``, so two captures never have the same bytes (the portal drops a capture
    whose bytes an exam already has, as a resubmission's copy) while one capture always
    downloads identically."""
    return clip_pool.clip(seed) + (8 + len(tag)).to_bytes(4, "big") + b"free" + tag


def padded_mp4_size_floor() -> int:
    """The smallest ``capture_size`` that can still be a playable padded MP4."""
    return len(clip_pool.clip(0)) + 16


def stream_padded_capture(size: int) -> Iterator[bytes]:
    """Exactly ``size`` bytes, produced chunk by chunk, never held whole in memory.

    When ``size`` allows, it is a real MP4: a pool clip followed by one ``free`` box (which
    players skip) filling the rest. Otherwise it is deterministic filler bytes.
    """
    clip = clip_pool.clip(0)
    if size < len(clip) + 16:
        yield from _filler(size)
        return
    padding = size - len(clip)
    yield clip
    # A 64-bit "largesize" box header works for any size: size field 1, then the real size.
    yield (1).to_bytes(4, "big") + b"free" + padding.to_bytes(8, "big")
    yield from _filler(padding - 16, zero=True)


def _filler(size: int, zero: bool = False) -> Iterator[bytes]:
    block = bytes(CHUNK) if zero else (bytes(range(256)) * (CHUNK // 256))
    while size > 0:
        take = min(size, CHUNK)
        yield block if take == CHUNK else block[:take]
        size -= take
