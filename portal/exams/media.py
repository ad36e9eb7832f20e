"""Where exam media lives on disk, which kinds we keep, and their previews.

Media is private: files sit under ``PORTAL_MEDIA_ROOT``, outside anything served
publicly, and only reach a browser through an authorised, audited view.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

# Ultrasound media Clarius produces: still images, clips, DICOM. Anything else that a
# media link returns (an HTML error page, an executable) is refused.
ALLOWED_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "video/mp4": ".mp4",
    "application/dicom": ".dcm",
}
THUMBNAIL_SIZE = (320, 240)
MAX_CAPTURE_BYTES = 1024 * 1024 * 1024  # one clip is minutes at most; 1 GiB is generous


def media_root() -> Path:
    return Path(settings.PORTAL_MEDIA_ROOT)


def absolute(relative: str) -> Path:
    """The file for a stored relative path, refusing anything that escapes the root."""
    root = media_root().resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError(f"media path escapes the media root: {relative!r}")
    return path


def capture_dir(capture) -> str:
    return f"{capture.institution_id}/{capture.exam.exam_uuid}/{capture.submission.request_uuid}"


def capture_relpath(capture, content_type: str) -> str:
    return f"{capture_dir(capture)}/{capture.position:03d}{ALLOWED_TYPES[content_type]}"


def thumbnail_relpath(capture) -> str:
    return f"{capture_dir(capture)}/{capture.position:03d}.thumb.jpg"


class PreviewFailed(Exception):
    """The media is kept, but no thumbnail or poster frame could be made of it."""


def make_preview(source: Path, content_type: str, dest: Path) -> tuple[int, int] | None:
    """A JPEG thumbnail (images) or poster frame (clips); the media's size, or ``None``
    for a kind that has no preview (DICOM).

    Raises ``PreviewFailed`` when the media cannot be decoded (hostile or damaged bytes
    behind a valid signature, a codec PyAV lacks, an image too large to decode): the
    caller keeps the media and records why it has no preview. No temporary file is left.
    """
    tmp = dest.with_suffix(".tmp")
    try:
        image = _first_frame(source, content_type)
        if image is None:
            return None
        size = image.size
        image = image.convert("RGB")
        image.thumbnail(THUMBNAIL_SIZE)
        image.save(tmp, "JPEG", quality=85)
        os.replace(tmp, dest)
        return size
    except Exception as e:  # noqa: BLE001 - any decoder error means "no preview", nothing more
        logger.warning("could not make a preview of %s: %s", source.name, e)
        tmp.unlink(missing_ok=True)
        raise PreviewFailed(f"{type(e).__name__}: {e}") from e


def clip_frame_rate(source: Path) -> float | None:
    """A clip's frames per second as its video stream declares it, or ``None`` when it
    declares none that makes sense (the viewer then steps by 1/30 s). Never raises: a
    clip whose rate cannot be read is still a clip."""
    try:
        import av

        with av.open(str(source)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    except Exception as e:  # noqa: BLE001 - damaged or hostile bytes: no rate, nothing more
        logger.warning("could not read the frame rate of %s: %s", source.name, e)
        return None
    if not rate:
        return None
    value = float(rate)
    return round(value, 3) if 1 <= value <= 1000 else None


def _first_frame(source: Path, content_type: str):
    from PIL import Image

    if content_type.startswith("image/"):
        with Image.open(source) as image:
            image.load()
            return image.copy()
    if content_type == "video/mp4":
        import av

        with av.open(str(source)) as container:
            for frame in container.decode(video=0):
                return frame.to_image()
        raise ValueError("the clip has no video frame that can be decoded")
    return None
