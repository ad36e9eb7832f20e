"""Ultrasound-like B-mode pictures: a fan-shaped sector of speckle with a few structures.

Nothing here is physics; it only has to look enough like a Clarius capture that a
reviewer screen, a thumbnailer or a DICOM viewer shows something believable. Every
picture is a pure function of its seed, so a capture downloads identically every time.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 640, 480
# The probe sits at the top centre; the fan opens 70 degrees and reaches 440 px deep.
APEX_X, APEX_Y = WIDTH / 2, 18.0
HALF_ANGLE = np.deg2rad(35.0)
NEAR, FAR = 24.0, 450.0
DYNAMIC_RANGE_DB = 40.0


@dataclass(frozen=True)
class Structure:
    """An elliptic region in polar coordinates (depth, angle) with its own echogenicity."""

    depth: float  # centre, as a fraction of the fan depth
    angle: float  # centre, as a fraction of the half angle (-1..1)
    radius_depth: float
    radius_angle: float
    gain: float  # multiplies the local echo: < 1 darker (cyst, vessel), > 1 brighter


class _Geometry:
    """Per-pixel polar coordinates of the fan, computed once (they never change)."""

    def __init__(self) -> None:
        ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        dx, dy = xs - APEX_X, ys - APEX_Y
        radius = np.hypot(dx, dy)
        theta = np.arctan2(dx, dy)
        self.inside = (radius >= NEAR) & (radius <= FAR) & (np.abs(theta) <= HALF_ANGLE)
        self.depth = np.clip((radius - NEAR) / (FAR - NEAR), 0, 1)
        self.angle = np.clip(theta / HALF_ANGLE, -1, 1)


_geometry: _Geometry | None = None
_geometry_lock = threading.Lock()


def geometry() -> _Geometry:
    global _geometry
    with _geometry_lock:
        if _geometry is None:
            _geometry = _Geometry()
        return _geometry


def random_structures(rng: np.random.Generator) -> list[Structure]:
    """Two to four structures: mostly dark (vessels, fluid), sometimes a bright reflector."""
    structures = []
    for _ in range(int(rng.integers(2, 5))):
        dark = rng.random() < 0.7
        structures.append(
            Structure(
                depth=float(rng.uniform(0.25, 0.8)),
                angle=float(rng.uniform(-0.6, 0.6)),
                radius_depth=float(rng.uniform(0.05, 0.16)),
                radius_angle=float(rng.uniform(0.12, 0.35)),
                gain=float(rng.uniform(0.02, 0.15) if dark else rng.uniform(2.0, 3.5)),
            )
        )
    return structures


def speckle_field(rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Rayleigh-like speckle: the envelope of blurred complex noise, mean about 1."""
    # Noise drawn on a coarser grid and upsampled smoothly has grain; the grid is coarser
    # sideways than in depth, like a real beam's resolution cell.
    noise = rng.standard_normal((2, height // 2, width // 4)).astype(np.float32)
    blurred = [
        np.asarray(Image.fromarray(plane).resize((width, height), Image.BICUBIC)) for plane in noise
    ]
    envelope = np.hypot(blurred[0], blurred[1])
    return envelope / float(envelope.mean() or 1.0)


def echo_map(
    structures: list[Structure], layer_depth: float, shift: tuple[float, float] = (0.0, 0.0)
) -> np.ndarray:
    """Tissue echogenicity in the fan: attenuation, a bright fascia layer, the structures."""
    geo = geometry()
    depth = geo.depth
    echo = 0.75 * np.exp(-1.1 * depth) + 0.35  # attenuation, partly undone by TGC
    layer = np.exp(-(((depth - layer_depth - 0.05 * np.sin(3 * geo.angle)) / 0.02) ** 2))
    echo = echo * (1 + 3.0 * layer)
    for s in structures:
        d = (depth - s.depth - shift[0]) / s.radius_depth
        a = (geo.angle - s.angle - shift[1]) / s.radius_angle
        inside = np.clip((1.1 - np.sqrt(d * d + a * a)) * 5, 0, 1)  # a soft, thin edge
        echo = echo * (1 + (s.gain - 1) * inside)
        # Posterior acoustic enhancement below fluid, shadowing below strong reflectors.
        below = (d > 0) & (np.abs(a) < 1)
        echo = np.where(below, echo * (1.25 if s.gain < 1 else 0.6), echo)
    return echo.astype(np.float32)


def render_frame(echo: np.ndarray, speckle: np.ndarray) -> np.ndarray:
    """Log-compress echo x speckle into 8-bit grey, black outside the fan, with depth ticks."""
    geo = geometry()
    amplitude = np.maximum(echo * speckle, 1e-4)
    db = 20 * np.log10(amplitude)
    grey = np.clip((db + DYNAMIC_RANGE_DB - 10) / DYNAMIC_RANGE_DB, 0, 1) * 255
    grey = np.where(geo.inside, grey, 0).astype(np.uint8)
    # Depth ticks every centimetre-ish on the right, like the scanner's scale.
    for tick in range(int(NEAR), int(FAR), 44):
        grey[int(APEX_Y + tick) : int(APEX_Y + tick) + 2, WIDTH - 22 : WIDTH - 12] = 200
    return grey


def bmode_image(seed: int) -> Image.Image:
    """One still B-mode picture, a pure function of ``seed``."""
    rng = np.random.default_rng(seed)
    echo = echo_map(random_structures(rng), layer_depth=float(rng.uniform(0.08, 0.2)))
    return Image.fromarray(render_frame(echo, speckle_field(rng)))


def encode_jpeg(picture: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def annotate(picture: Image.Image, lines: list[str]) -> Image.Image:
    """Burn text lines into the top-left corner (DICOM export overlays)."""
    if not lines:
        return picture
    from PIL import ImageFont

    picture = picture.convert("RGB")
    draw = ImageDraw.Draw(picture)
    size = max(10, picture.height // 40)
    font = ImageFont.load_default(size=size)
    for number, line in enumerate(lines):
        draw.text((8, 6 + number * (size + 4)), line, fill=(255, 255, 0), font=font)
    return picture


class JpegCache:
    """The JPEG bytes of recently served captures, so repeated downloads cost nothing."""

    def __init__(self, capacity: int = 128) -> None:
        self._items: OrderedDict[int, bytes] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, seed: int) -> bytes:
        with self._lock:
            if seed in self._items:
                self._items.move_to_end(seed)
                return self._items[seed]
        data = encode_jpeg(bmode_image(seed))  # outside the lock: other downloads go on
        with self._lock:
            self._items[seed] = data
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return data


jpeg_cache = JpegCache()
