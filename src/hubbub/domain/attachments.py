"""What may be attached: file names, the allow-list of types, and how a download is
named. Images are recognised by decoding them (an `ImageProcessor`); other files by
their name's extension, checked against their first bytes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from hubbub.domain.errors import UnsupportedMediaType, ValidationFailed

MAX_FILE_NAME_CHARS = 200
MAX_ATTACHMENTS_PER_MESSAGE = 10
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "webp"})

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with entries, an empty zip
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)  # legacy Office (.doc, .xls, .ppt)
_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."


@dataclass(frozen=True, slots=True)
class FileType:
    content_type: str
    # The bytes a file of this type starts with (one of them); None: UTF-8 text.
    magic: tuple[bytes, ...] | None


FILE_TYPES: dict[str, FileType] = {
    "pdf": FileType("application/pdf", (b"%PDF-",)),
    "zip": FileType("application/zip", _ZIP),
    "docx": FileType(_OOXML + "wordprocessingml.document", _ZIP),
    "xlsx": FileType(_OOXML + "spreadsheetml.sheet", _ZIP),
    "pptx": FileType(_OOXML + "presentationml.presentation", _ZIP),
    "odt": FileType(_ODF + "text", _ZIP),
    "ods": FileType(_ODF + "spreadsheet", _ZIP),
    "odp": FileType(_ODF + "presentation", _ZIP),
    "doc": FileType("application/msword", _OLE),
    "xls": FileType("application/vnd.ms-excel", _OLE),
    "ppt": FileType("application/vnd.ms-powerpoint", _OLE),
    "txt": FileType("text/plain; charset=utf-8", None),
    "md": FileType("text/markdown; charset=utf-8", None),
    "csv": FileType("text/csv; charset=utf-8", None),
    "log": FileType("text/plain; charset=utf-8", None),
}
ALLOWED_EXTENSIONS = sorted(IMAGE_EXTENSIONS | FILE_TYPES.keys())


def file_name(raw: str) -> str:
    """The name a file is shown and downloaded under: its last path component (a
    browser may send a full path), NFC, without control characters, 1-200 characters."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(c for c in name if unicodedata.category(c) not in {"Cc", "Cf"}).strip()
    if not name or name in {".", ".."}:
        raise ValidationFailed("The file needs a name.")
    if len(name) > MAX_FILE_NAME_CHARS:
        raise ValidationFailed(f"File names are limited to {MAX_FILE_NAME_CHARS} characters.")
    return name


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def is_image_name(name: str) -> bool:
    return extension(name) in IMAGE_EXTENSIONS


def check_allowed_name(name: str) -> None:
    """`UnsupportedMediaType` unless a file named `name` may be attached at all: asked
    before its bytes are sent, so nobody uploads 25 MB to be told no."""
    if not is_image_name(name) and extension(name) not in FILE_TYPES:
        raise UnsupportedMediaType(
            "That type of file cannot be attached. Allowed: " + ", ".join(ALLOWED_EXTENSIONS) + "."
        )


def file_type(name: str, data: bytes) -> str:
    """The content type of a non-image upload named `name`, if its extension is allowed
    and its bytes agree; `UnsupportedMediaType` otherwise."""
    check_allowed_name(name)
    kind = FILE_TYPES[extension(name)]
    if kind.magic is None:
        if b"\x00" in data:
            raise UnsupportedMediaType("That is not a text file.")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsupportedMediaType("Text files must be UTF-8.") from None
    elif not data.startswith(kind.magic):
        raise UnsupportedMediaType(f"That file is not a valid .{extension(name)} file.")
    return kind.content_type


def content_disposition(name: str, *, inline: bool) -> str:
    """A Content-Disposition that keeps any file name intact (RFC 6266: an ASCII
    fallback, and the UTF-8 name percent-encoded)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\%;' else "_" for c in name
    )
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
