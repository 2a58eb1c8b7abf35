"""`ImageProcessor` with Pillow: uploads are decoded in full (not trusted by their name)
and a thumbnail is drawn for previews."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from hubbub.domain.errors import PayloadTooLarge, UnsupportedMediaType
from hubbub.ports import ImageInfo

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


class PillowImages:
    """`max_pixels` bounds width x height before anything is decoded: a small file
    that expands to gigabytes of pixels (a decompression bomb) is refused unread."""

    def __init__(self, *, max_pixels: int = 40_000_000, thumbnail_edge: int = 320) -> None:
        self._max_pixels = max_pixels
        self._edge = thumbnail_edge

    def examine(self, data: bytes) -> ImageInfo:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns below twice its limit: make it an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                return self._examine(data)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
                raise PayloadTooLarge("That image has too many pixels.") from error
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
                raise UnsupportedMediaType(
                    "That file is not a PNG, JPEG, GIF or WebP image Hubbub can read."
                ) from error

    def _examine(self, data: bytes) -> ImageInfo:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as probe:
            content_type = FORMATS[str(probe.format)]
            width, height = probe.size
            if width * height > self._max_pixels:
                raise PayloadTooLarge(
                    f"Images are limited to {self._max_pixels // 1_000_000} megapixels."
                )
            probe.verify()  # the container is consistent (checksums, structure)
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


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
