"""How exam media is named, which kinds we keep, and their previews.

Media is private: stored files (``portal.storage``) outside anything served publicly,
which only reach a browser through an authorised, audited view.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from portal import storage

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


def capture_dir(capture) -> str:
    return f"{capture.institution_id}/{capture.exam.exam_uuid}/{capture.submission.request_uuid}"


def capture_relpath(capture, content_type: str) -> str:
    return f"{capture_dir(capture)}/{capture.position:03d}{ALLOWED_TYPES[content_type]}"


def thumbnail_relpath(capture) -> str:
    return f"{capture_dir(capture)}/{capture.position:03d}.thumb.jpg"


class PreviewFailed(Exception):
    """The media is kept, but no thumbnail or poster frame could be made of it."""


def make_preview(source: Path, content_type: str, thumbnail: str) -> tuple[int, int] | None:
    """Store a JPEG thumbnail (images) or poster frame (clips) of the local file
    ``source`` as the stored file named ``thumbnail``; the media's size, or ``None`` for
    a kind that has no preview (DICOM).

    Raises ``PreviewFailed`` when the media cannot be decoded (hostile or damaged bytes
    behind a valid signature, a codec PyAV lacks, an image too large to decode): the
    caller keeps the media and records why it has no preview. Nothing is stored then.
    """
    made = preview_jpeg(source, content_type)
    if made is None:
        return None
    jpeg, size = made
    storage.save_bytes(thumbnail, jpeg)
    return size


def preview_jpeg(source: Path, content_type: str) -> tuple[bytes, tuple[int, int]] | None:
    """The preview's JPEG bytes and the media's size, ``None`` for a kind with no
    preview; ``PreviewFailed`` when the media cannot be decoded."""
    try:
        made = _first_frame(source, content_type)
        if made is None:
            return None
        image, size = made
        image = image.convert("RGB")
        image.thumbnail(THUMBNAIL_SIZE)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        return out.getvalue(), size
    except Exception as e:  # noqa: BLE001 - any decoder error means "no preview", nothing more
        logger.warning("could not make a preview of %s: %s", source.name, e)
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
    """The first picture, already near the preview's size, and the media's own size.

    Both decoders scale while decoding, which is most of a preview's cost saved: JPEG
    by its DCT scaling (``draft``, to no less than the preview's size), a clip's frame by
    the converter that makes it RGB anyway.
    """
    from PIL import Image

    if content_type.startswith("image/"):
        with Image.open(source) as image:
            size = image.size
            if image.format == "JPEG":
                image.draft("RGB", THUMBNAIL_SIZE)
            image.load()
            return image.copy(), size
    if content_type == "video/mp4":
        import av

        with av.open(str(source)) as container:
            for frame in container.decode(video=0):
                size = (frame.width, frame.height)
                scale = min(THUMBNAIL_SIZE[0] / size[0], THUMBNAIL_SIZE[1] / size[1], 1)
                width, height = (max(1, round(side * scale)) for side in size)
                return frame.to_image(width=width, height=height), size
        raise ValueError("the clip has no video frame that can be decoded")
    return None
