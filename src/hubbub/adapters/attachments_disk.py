"""`AttachmentStore` in a directory (`<data dir>/attachments` by default): one file per
key, written whole then renamed into place, owner-only like the rest of the data
directory. It has no URLs of its own: the app signs short-lived ones, serves downloads
at them and takes uploads at them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

from hubbub.domain.errors import NotFound
from hubbub.ports import UploadTarget

CHUNK = 256 * 1024
# Keys are chosen by the service (ids), never by users; anything else is a bug.
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64}(\.thumb)?$")


class DiskAttachments:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not an attachment key: {key!r}")
        return self._root / key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    def _write(self, path: Path, data: bytes) -> None:
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:  # mkstemp creates it 0600
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename survives a power cut too
        finally:
            os.close(directory)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            source = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise NotFound("Attachment not found.") from None
        try:
            while chunk := await asyncio.to_thread(source.read, CHUNK):
                yield chunk
        finally:
            source.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def url(
        self, key: str, *, file_name: str, content_type: str, inline: bool, ttl_seconds: int
    ) -> str | None:
        return None

    async def upload_target(
        self, key: str, *, max_bytes: int, ttl_seconds: int
    ) -> UploadTarget | None:
        return None

    async def expire_uploads(self, before: datetime) -> int:
        return await asyncio.to_thread(self._expire, self._root / "uploads", before.timestamp())

    def _expire(self, directory: Path, before: float) -> int:
        expired = 0
        try:
            entries = list(directory.iterdir())
        except FileNotFoundError:
            return 0
        for path in entries:
            with contextlib.suppress(FileNotFoundError):  # completed meanwhile
                if path.stat().st_mtime < before:
                    path.unlink()
                    expired += 1
        return expired
