"""Profile pictures: checked, squared and re-encoded, kept in the attachment store.

A picture is stored under a fresh random key (`avatars/<32 hex digits>`, 128 bits) and
served without a token at /api/avatars/<id>: an `<img>` cannot send one, and nobody can
guess an id they were not shown. A new picture is a new id, so its URL can be cached
for ever; the old one's bytes are deleted once the profile no longer points at them.
The profile change itself goes through `UserService.update_profile`, so every contact
hears `user.updated` with the new `avatarUrl`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace

from hubbub.domain.errors import NotFound, PayloadTooLarge, ValidationFailed
from hubbub.domain.models import User
from hubbub.ports import AttachmentStore, ImageProcessor
from hubbub.services.attachments import started
from hubbub.services.users import UserService

log = logging.getLogger("hubbub.avatars")

AVATAR_EDGE = 256
AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_TYPE = "image/webp"
_ID = re.compile(r"^[0-9a-f]{32}$")


def avatar_key(avatar_id: str) -> str:
    return f"avatars/{avatar_id}"


class AvatarService:
    def __init__(
        self,
        users: UserService,
        blobs: AttachmentStore,
        images: ImageProcessor,
        *,
        max_bytes: int,
    ) -> None:
        self._users = users
        self._blobs = blobs
        self._images = images
        self.max_bytes = max_bytes

    async def replace(self, user_id: str, data: bytes) -> User:
        """Makes `data` (a PNG, JPEG, GIF or WebP image) the user's picture."""
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(f"Profile pictures are limited to {self.max_bytes} bytes.")
        if not data:
            raise ValidationFailed("The picture is empty.")
        await self._users.get(user_id)  # NotFound before any work
        picture = await asyncio.to_thread(self._images.square, data, AVATAR_EDGE)
        new_id = secrets.token_hex(16)
        await self._blobs.put(avatar_key(new_id), picture, AVATAR_TYPE)
        try:
            return await self._change(user_id, new_id)
        except BaseException:
            await self._forget(new_id)
            raise

    async def remove(self, user_id: str) -> User:
        """The user has no picture any more (nothing happens if they had none)."""
        return await self._change(user_id, None)

    async def open(self, avatar_id: str) -> AsyncIterator[bytes]:
        """The picture's bytes; `NotFound` (before any byte) for an id that is not one."""
        if not _ID.match(avatar_id):
            raise NotFound("Picture not found.")
        return await started(self._blobs.stream(avatar_key(avatar_id)))

    async def _change(self, user_id: str, new_id: str | None) -> User:
        previous: str | None = None

        def change(user: User) -> User:
            nonlocal previous  # assigned, not appended: the transaction may run again
            previous = user.avatar_id
            return replace(user, avatar_id=new_id)

        updated = await self._users.update_profile(user_id, change)
        if previous is not None and previous != new_id:
            await self._forget(previous)
        return updated

    async def _forget(self, avatar_id: str) -> None:
        try:
            await self._blobs.delete(avatar_key(avatar_id))
        except Exception:
            log.exception("deleting picture %s failed; left behind", avatar_id)
