"""A clip as the H.264 elementary stream DICOM carries (PS3.5 8.2.8, A.4.x).

Clarius clips are MP4 files with H.264 inside. DICOM does not carry the MP4 container:
the Pixel Data is the elementary stream (Annex B byte stream, the parameter sets in
band), split into fragments of one frame item after an empty Basic Offset Table. The
stream is kept as it is (only the container is removed) when its profile, level and
picture size fit a DICOM MPEG-4 transfer syntax, and re-encoded with libx264 otherwise.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction

import av
import av.bitstream

# MPEG-4 AVC/H.264 High Profile / Level 4.1, and its BD-compatible subset.
HIGH_41 = "1.2.840.10008.1.2.4.102"
HIGH_41_BD = "1.2.840.10008.1.2.4.103"

MAX_LEVEL = 41
# (width, height) -> frame rates a Blu-ray compatible stream may have at that size.
_BD_SIZES = {
    (1920, 1080): {Fraction(24000, 1001), Fraction(24)},
    (1280, 720): {Fraction(24000, 1001), Fraction(24), Fraction(50), Fraction(60000, 1001)},
}
# An item may hold at most 2^32 - 2 bytes (an even length below the undefined length).
FRAGMENT = 0xFFFF_FFF0


class VideoError(Exception):
    """The file is not a video PyAV can read."""


@dataclass(frozen=True)
class Stream:
    data: bytes  # the Annex B elementary stream
    width: int
    height: int
    frames: int
    rate: Fraction  # frames per second
    profile_idc: int
    level_idc: int
    constraints: int = 0
    reencoded: bool = False

    @property
    def transfer_syntax(self) -> str:
        rates = _BD_SIZES.get((self.width, self.height), set())
        if self.profile_idc == 100 and self.rate in rates:
            return HIGH_41_BD
        return HIGH_41


def sps(data: bytes) -> tuple[int, int, int] | None:
    """(profile_idc, constraint flags, level_idc) of the first sequence parameter set."""
    at = 0
    while True:
        at = data.find(b"\x00\x00\x01", at)
        if at < 0 or at + 6 > len(data):
            return None
        if data[at + 3] & 0x1F == 7:
            return data[at + 4], data[at + 5], data[at + 6]
        at += 3


def fits(stream: Stream) -> bool:
    """Whether the stream may go as it is under High Profile / Level 4.1."""
    # Constrained Baseline and Main are subsets of High; plain Baseline (FMO, ASO) is not,
    # nor are High 10 / 4:2:2 / 4:4:4.
    constrained_baseline = stream.profile_idc == 66 and bool(stream.constraints & 0x40)
    if not (stream.profile_idc in (77, 100) or constrained_baseline):
        return False
    if stream.level_idc > MAX_LEVEL or stream.width > 1920 or stream.height > 1080:
        return False
    large = stream.width * stream.height > 1280 * 720
    return stream.rate <= (30 if large else 60)


def _demux(data: bytes) -> tuple[Stream, str]:
    try:
        container = av.open(io.BytesIO(data))
    except (av.FFmpegError, ValueError) as e:
        raise VideoError(str(e)) from e
    with container:
        if not container.streams.video:
            raise VideoError("there is no video in the file")
        video = container.streams.video[0]
        codec = video.codec_context.name
        pix_fmt = video.codec_context.pix_fmt or ""
        rate = Fraction(video.average_rate or video.guessed_rate or 0)
        width, height = video.codec_context.width, video.codec_context.height
        chunks, frames = [], 0
        try:
            if codec == "h264":
                bsf = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", video)
                for packet in container.demux(video):
                    if not packet.size:  # the demuxer's end-of-stream marker
                        continue
                    for out in bsf.filter(packet):
                        chunks.append(bytes(out))
                        frames += 1
                for out in bsf.filter(None):  # what the filter still holds
                    chunks.append(bytes(out))
                    frames += 1
            else:
                frames = sum(1 for packet in container.demux(video) if packet.size)
        except av.FFmpegError as e:
            raise VideoError(str(e)) from e
    stream_data = b"".join(chunks)
    parameters = sps(stream_data) if stream_data else None
    profile, constraints, level = parameters or (0, 0, 0)
    if not rate:
        raise VideoError("the video has no frame rate")
    stream = Stream(stream_data, width, height, frames, rate, profile, level, constraints)
    return stream, pix_fmt


def h264_stream(data: bytes) -> Stream:
    """The clip's H.264 elementary stream, re-encoded only when it does not fit."""
    stream, pix_fmt = _demux(data)
    if stream.data and pix_fmt in ("yuv420p", "yuvj420p") and fits(stream):
        return stream
    return reencode(data, stream)


def reencode(data: bytes, source: Stream) -> Stream:
    """The clip encoded again as High Profile / Level 4.1, within 1920×1080, same rate."""
    scale = min(1.0, 1920 / source.width, 1080 / source.height)
    width, height = int(source.width * scale) // 2 * 2, int(source.height * scale) // 2 * 2
    rate = source.rate if source.rate <= 60 else Fraction(60)
    if width * height > 1280 * 720 and rate > 30:
        rate = Fraction(30)
    out = io.BytesIO()
    frames = 0
    try:
        with av.open(io.BytesIO(data)) as container, av.open(out, "w", format="h264") as sink:
            encoder = sink.add_stream("libx264", rate=rate)
            encoder.width, encoder.height = width, height
            encoder.pix_fmt = "yuv420p"
            encoder.options = {"profile": "high", "level": "4.1", "preset": "veryfast", "crf": "20"}
            for frame in container.decode(video=0):
                frame = frame.reformat(width=width, height=height, format="yuv420p")
                frame.pts = None
                for packet in encoder.encode(frame):
                    sink.mux(packet)
                frames += 1
            for packet in encoder.encode():
                sink.mux(packet)
    except (av.FFmpegError, ValueError) as e:
        raise VideoError(str(e)) from e
    stream_data = out.getvalue()
    profile, _constraints, level = sps(stream_data) or (100, 0, 41)
    return Stream(stream_data, width, height, frames, rate, profile, level, reencoded=True)


def encapsulated(stream: bytes) -> bytes:
    """The Pixel Data value of an MPEG stream: an empty Basic Offset Table item, then the
    whole stream as fragments of the one frame (odd length padded with a NUL); pydicom
    writes the sequence delimiter after it."""
    if len(stream) % 2:
        stream += b"\x00"
    items = [b"\xfe\xff\x00\xe0" + struct.pack("<I", 0)]
    for start in range(0, len(stream), FRAGMENT):
        fragment = stream[start : start + FRAGMENT]
        items.append(b"\xfe\xff\x00\xe0" + struct.pack("<I", len(fragment)) + fragment)
    return b"".join(items)
