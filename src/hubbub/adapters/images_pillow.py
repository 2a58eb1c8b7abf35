"""`ImageProcessor` with Pillow: uploads are decoded in full (not trusted by their name)
and a thumbnail is drawn for previews."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import TypeVar

from PIL import Image, ImageOps, UnidentifiedImageError

from hubbub.domain.errors import PayloadTooLarge, UnsupportedMediaType
from hubbub.ports import ImageInfo

_T = TypeVar("_T")
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


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
        return ImageInfo(content_type, width, height, out.getvalue(), "image/webp")


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
