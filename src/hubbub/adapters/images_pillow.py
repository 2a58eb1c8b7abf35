"""`ImageProcessor` with Pillow: uploads are decoded in full (not trusted by their name),
a thumbnail is drawn for previews, and what an image says about where and how it was
taken (EXIF with its GPS position, XMP, comments, text chunks) is dropped before anyone
else can download it."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from PIL import Image, ImageOps, UnidentifiedImageError

from hubbub.domain.errors import PayloadTooLarge, UnsupportedMediaType
from hubbub.ports import ImageInfo

_T = TypeVar("_T")
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
# What a cleaned image keeps of its metadata: how to show it, nothing about its origin.
_KEPT = ("icc_profile", "transparency", "duration", "loop", "background")
# Where formats keep what a photo says about its origin (besides EXIF and PNG text).
_ORIGIN = ("exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc")
_ORIENTATION = 0x0112


class PillowImages:
    """`max_pixels` bounds width x height before anything is decoded: a small file
    that expands to gigabytes of pixels (a decompression bomb) is refused unread."""

    def __init__(self, *, max_pixels: int = 40_000_000, thumbnail_edge: int = 320) -> None:
        self._max_pixels = max_pixels
        self._edge = thumbnail_edge

    def examine(self, data: bytes) -> ImageInfo:
        return _checked(lambda: self._examine(data))

    def square(self, data: bytes, edge: int) -> bytes:
        return _checked(lambda: self._square(data, edge))

    def _square(self, data: bytes, edge: int) -> bytes:
        self._verified(data)
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
            image.load()  # the first frame of an animation
            upright = ImageOps.exif_transpose(image)
            frame = upright.convert("RGBA" if _has_alpha(upright) else "RGB")
            # Re-encoding from pixels alone drops EXIF, ICC and XMP data.
            fitted = ImageOps.fit(frame, (edge, edge), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            fitted.save(out, format="WEBP", quality=85)
        return out.getvalue()

    def _verified(self, data: bytes) -> str:
        """The image's type, once its size and structure are checked."""
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as probe:
            content_type = FORMATS[str(probe.format)]
            width, height = probe.size
            if width * height > self._max_pixels:
                raise PayloadTooLarge(
                    f"Images are limited to {self._max_pixels // 1_000_000} megapixels."
                )
            probe.verify()  # the container is consistent (checksums, structure)
        return content_type

    def _examine(self, data: bytes) -> ImageInfo:
        content_type = self._verified(data)
        # verify() leaves the image unusable: decode it again, in full, for the thumbnail.
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            frame = upright.convert("RGBA" if _has_alpha(upright) else "RGB")
            frame.thumbnail((self._edge, self._edge))
            out = io.BytesIO()
            frame.save(out, format="WEBP", quality=80)
            width, height = upright.size  # as shown: a rotated photo's are swapped
            cleaned = _without_metadata(image) if _carries_metadata(image) else None
        return ImageInfo(content_type, width, height, out.getvalue(), "image/webp", cleaned)


def _checked(work: Callable[[], _T]) -> _T:
    """Runs `work` on an upload, turning what Pillow raises into the domain's errors."""
    with warnings.catch_warnings():
        # Pillow's own bomb check warns below twice its limit: make it an error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return work()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise PayloadTooLarge("That image has too many pixels.") from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise UnsupportedMediaType(
                "That file is not a PNG, JPEG, GIF or WebP image Hubbub can read."
            ) from error


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info


def _carries_metadata(image: Image.Image) -> bool:
    text = getattr(image, "text", None)  # PNG's tEXt, zTXt and iTXt chunks
    return bool(image.getexif()) or bool(text) or any(key in image.info for key in _ORIGIN)


def _without_metadata(image: Image.Image) -> bytes:
    """The image again with only what showing it needs. A JPEG keeps its quantization
    (re-encoded at its own quality, not a new one) and its orientation as the only EXIF
    tag, so it is not decoded into a different picture; other formats are turned
    upright and re-encoded (PNG and GIF losslessly, WebP at quality 90)."""
    fmt = str(image.format)
    orientation = image.getexif().get(_ORIENTATION, 1)
    kept: dict[str, Any] = {key: image.info[key] for key in _KEPT if key in image.info}
    out = io.BytesIO()
    if fmt == "JPEG":
        exif = Image.Exif()
        if orientation != 1:
            exif[_ORIENTATION] = orientation
        _keep_only(image, kept)
        image.save(
            out,
            format="JPEG",
            quality="keep",
            subsampling="keep",
            exif=exif.tobytes() if orientation != 1 else b"",
            icc_profile=kept.get("icc_profile"),
        )
    elif getattr(image, "is_animated", False):
        _keep_only(image, kept)  # GIF falls back on the image's own info for comments
        image.save(out, format=fmt, save_all=True, **kept)
    else:
        upright = ImageOps.exif_transpose(image)
        _keep_only(upright, kept)
        quality = {"quality": 90} if fmt == "WEBP" else {}
        upright.save(out, format=fmt, **quality, **kept)
    return out.getvalue()


def _keep_only(image: Image.Image, kept: dict[str, Any]) -> None:
    """Encoders fall back on the image's own info: leave only what is kept there."""
    image.info.clear()
    image.info.update(kept)
