"""Uploading attachments, and handing their bytes only to the conversation's members.

An upload is stored (bytes first, then its row) unsent; a message sends it
(`MessageService.send` with `attachment_ids`), once. Until then only its uploader sees
it; afterwards every member does, and nobody else: outsiders and removed members get
`NotFound`, as for anything else in a conversation they are not in.

Browsers cannot send the access token (held in memory, not a cookie) with an `<img>`,
so `link` hands out short-lived URLs: the `AttachmentStore`'s own (S3 presigned) or,
when it has none (local disk), one the app serves, signed with a key derived from the
server's secret. Either is good for `url_seconds` whoever holds it, like any download
link; membership is checked when it is made.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from hubbub.domain import attachments as rules
from hubbub.domain.errors import (
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from hubbub.domain.models import Attachment
from hubbub.domain.views import JsonObject, attachment_view
from hubbub.ports import AttachmentStore, Clock, IdGenerator, ImageProcessor, Store, Transaction
from hubbub.services.access import membership_of

log = logging.getLogger("hubbub.attachments")

# Uploads never sent are deleted once this old (a composer abandoned mid-message).
UNSENT_KEEP = timedelta(days=1)
# How long a started upload's URL takes bytes: 25 MB on a slow link.
UPLOAD_WINDOW = timedelta(minutes=15)
_VARIANTS = ("file", "thumbnail")


@dataclass(frozen=True, slots=True)
class Download:
    """What to answer a download with: the bytes, and the headers that go with them."""

    chunks: AsyncIterator[bytes]
    content_type: str
    size: int | None
    disposition: str


class AttachmentService:
    def __init__(
        self,
        store: Store,
        blobs: AttachmentStore,
        images: ImageProcessor,
        ids: IdGenerator,
        clock: Clock,
        *,
        signing_key: bytes,
        max_bytes: int,
        url_seconds: int = 60,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._images = images
        self._ids = ids
        self._clock = clock
        self._key = signing_key
        self.max_bytes = max_bytes
        self._url_seconds = url_seconds

    def too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"Attachments are limited to {self.max_bytes} bytes.")

    def _check_size(self, size: int) -> None:
        if size > self.max_bytes:
            raise self.too_large()
        if size <= 0:
            raise ValidationFailed("The file is empty.")

    async def may_upload(self, caller_id: str, conversation_id: str) -> None:
        """`NotFound` unless the caller is a member: checked before the body is read."""
        await self._store.read(lambda tx: membership_of(tx, conversation_id, caller_id))

    async def upload(
        self, caller_id: str, conversation_id: str, raw_name: str, data: bytes
    ) -> JsonObject:
        """Checks the file (type by its bytes, size, pixels), stores it with a
        thumbnail for images, and records it unsent. Returns its view."""
        name = rules.file_name(raw_name)
        await self.may_upload(caller_id, conversation_id)
        attachment = await self._accept(caller_id, conversation_id, name, data, self._ids.new_id())
        return attachment_view(attachment)

    async def start_upload(
        self, caller_id: str, conversation_id: str, raw_name: str, size: int
    ) -> JsonObject:
        """Where the caller may send a file's bytes without going through this app's
        request size limits (an S3 presigned form POST), or a PUT to a URL this app
        signs, after every check that needs no bytes. `complete_upload` then checks
        the bytes and records the attachment."""
        name = rules.file_name(raw_name)
        rules.check_allowed_name(name)
        self._check_size(size)
        await self.may_upload(caller_id, conversation_id)
        upload_id = self._upload_id(caller_id, conversation_id, self._ids.new_id())
        expires = self._clock.now() + UPLOAD_WINDOW
        target = await self._blobs.upload_target(
            _staged_key(upload_id),
            max_bytes=self.max_bytes,
            ttl_seconds=int(UPLOAD_WINDOW.total_seconds()),
        )
        if target is None:
            stamp = int(expires.timestamp())
            url = f"/api/attachment-uploads/{upload_id}?expires={stamp}"
            url += f"&signature={self._mac('put', upload_id, str(stamp))}"
            method, fields = "PUT", {}
        else:
            url, method, fields = target.url, "POST", target.fields
        return {
            "id": upload_id,
            "url": url,
            "method": method,
            "fields": fields,
            "expiresAt": _iso(expires),
        }

    def check_upload_url(self, upload_id: str, expires: int, signature: str) -> None:
        """`NotFound` unless this app signed the PUT URL (`start_upload`) and it is
        still valid: checked before the body is read."""
        expected = self._mac("put", upload_id, str(expires))
        valid = hmac.compare_digest(expected.encode(), signature.encode())
        if not valid or expires < self._clock.now().timestamp():
            raise NotFound("That upload URL is not valid (expired or altered).")

    async def receive_upload(
        self, upload_id: str, expires: int, signature: str, data: bytes
    ) -> None:
        """Keeps the bytes sent to a URL `start_upload` signed, for `complete_upload`."""
        self.check_upload_url(upload_id, expires, signature)
        self._check_size(len(data))
        await self._blobs.put(_staged_key(upload_id), data, "application/octet-stream")

    async def complete_upload(
        self, caller_id: str, conversation_id: str, upload_id: str, raw_name: str
    ) -> tuple[JsonObject, bool]:
        """Checks the bytes sent for `upload_id` as `upload` checks a body, records the
        attachment and drops the sent bytes; True if it is new. Completing it again (a
        retry after a lost answer) returns the same attachment: its id is the upload's."""
        attachment_id = self._attachment_of(caller_id, conversation_id, upload_id)
        name = rules.file_name(raw_name)

        def done(tx: Transaction) -> Attachment | None:
            membership_of(tx, conversation_id, caller_id)
            return tx.attachments.get(conversation_id, attachment_id)

        existing = await self._store.read(done)
        if existing is not None:
            return attachment_view(existing), False
        staged = _staged_key(upload_id)
        try:
            data = await self._staged_bytes(staged)
            attachment = await self._accept(caller_id, conversation_id, name, data, attachment_id)
        except _REFUSALS:
            await self._forget_keys([staged])  # refused for good: the upload starts over
            raise
        # Anything else (the store failed, the request was cut) keeps the bytes: a retry
        # completes it; never completed, they expire.
        await self._forget_keys([staged])
        return attachment_view(attachment), True

    async def _accept(
        self, caller_id: str, conversation_id: str, name: str, data: bytes, attachment_id: str
    ) -> Attachment:
        """Checks `data` and records it as an attachment of the caller's (a member: the
        callers checked, and the write checks again)."""
        self._check_size(len(data))
        width = height = None
        thumbnail: bytes | None = None
        if rules.is_image_name(name):
            info = await asyncio.to_thread(self._images.examine, data)
            content_type, width, height = info.content_type, info.width, info.height
            thumbnail = info.thumbnail
            data = info.cleaned or data  # what others download carries no EXIF or GPS
        else:
            content_type = rules.file_type(name, data)
        attachment = Attachment(
            id=attachment_id,
            conversation_id=conversation_id,
            uploader_id=caller_id,
            file_name=name,
            content_type=content_type,
            size=len(data),
            created_at=self._clock.now(),
            width=width,
            height=height,
            has_thumbnail=thumbnail is not None,
        )
        # Bytes first: a row never points at nothing. If the row is refused (the caller
        # was removed meanwhile), the bytes go again.
        await self._blobs.put(attachment.storage_key, data, content_type)
        if thumbnail is not None:
            await self._blobs.put(attachment.thumbnail_key, thumbnail, "image/webp")

        def work(tx: Transaction) -> Attachment:
            membership_of(tx, conversation_id, caller_id)
            # Two completions of one upload at once: the first one's row stands.
            earlier = tx.attachments.get(conversation_id, attachment.id)
            if earlier is not None:
                return earlier
            tx.attachments.insert(attachment)
            return attachment

        try:
            return await self._store.write(work)
        except BaseException:
            await self._forget([attachment])
            raise

    async def _staged_bytes(self, key: str) -> bytes:
        data = bytearray()
        try:
            async for chunk in self._blobs.stream(key):
                data += chunk
                if len(data) > self.max_bytes:
                    raise self.too_large()
        except NotFound:
            raise NotFound("Nothing was uploaded for that upload, or it was completed.") from None
        return bytes(data)

    def _upload_id(self, caller_id: str, conversation_id: str, attachment_id: str) -> str:
        """The attachment's id and a MAC binding it to its uploader and conversation, so
        nobody else can complete it (no record is kept until it completes)."""
        return f"{attachment_id}-{self._mac('upload', conversation_id, caller_id, attachment_id)}"

    def _attachment_of(self, caller_id: str, conversation_id: str, upload_id: str) -> str:
        attachment_id, _, mac = upload_id.partition("-")
        expected = self._mac("upload", conversation_id, caller_id, attachment_id)
        if not attachment_id or not hmac.compare_digest(expected.encode(), mac.encode()):
            raise NotFound("Upload not found.")
        return attachment_id

    async def download(
        self, caller_id: str, conversation_id: str, attachment_id: str, *, thumbnail: bool
    ) -> Download:
        attachment = await self._visible(caller_id, conversation_id, attachment_id, thumbnail)
        return await self._open(attachment, thumbnail)

    async def link(self, caller_id: str, conversation_id: str, attachment_id: str) -> JsonObject:
        """Short-lived URLs of the file and its thumbnail, for `<img src>` and links."""
        attachment = await self._visible(caller_id, conversation_id, attachment_id, False)
        expires = self._clock.now() + timedelta(seconds=self._url_seconds)
        urls: JsonObject = {"expiresAt": _iso(expires)}
        for variant in _VARIANTS:
            thumb = variant == "thumbnail"
            if thumb and not attachment.has_thumbnail:
                urls["thumbnailUrl"] = None
                continue
            direct = await self._blobs.url(
                attachment.thumbnail_key if thumb else attachment.storage_key,
                file_name=attachment.file_name,
                content_type="image/webp" if thumb else attachment.content_type,
                inline=thumb or attachment.is_image,
                ttl_seconds=self._url_seconds,
            )
            urls["thumbnailUrl" if thumb else "url"] = direct or self._signed_path(
                attachment, variant, int(expires.timestamp())
            )
        return urls

    async def download_signed(
        self, conversation_id: str, attachment_id: str, variant: str, expires: int, signature: str
    ) -> Download:
        """The bytes behind a URL `link` signed, while it is valid and the attachment
        still exists; `NotFound` for anything else (a wrong, altered or expired URL)."""
        expected = self._signature(conversation_id, attachment_id, variant, expires)
        # As bytes: compare_digest refuses str with non-ASCII characters (any URL may).
        valid = hmac.compare_digest(expected.encode(), signature.encode()) and variant in _VARIANTS
        if not valid or expires < self._clock.now().timestamp():
            raise NotFound("Attachment not found.")
        thumb = variant == "thumbnail"
        attachment = await self._store.read(
            lambda tx: tx.attachments.get(conversation_id, attachment_id)
        )
        if attachment is None or (thumb and not attachment.has_thumbnail):
            raise NotFound("Attachment not found.")
        return await self._open(attachment, thumb)

    async def forget(self, attachments: list[Attachment]) -> None:
        """Deletes the bytes of attachments whose rows are gone (their message was
        deleted); failures are logged, never raised (the message is deleted already)."""
        await self._forget(attachments)

    async def clean_up(self, limit: int = 100) -> int:
        """Deletes up to `limit` uploads never sent and older than a day (rows, then
        bytes), and the bytes of uploads started that long ago and never completed;
        returns how many."""
        cutoff = self._clock.now() - UNSENT_KEEP
        expired = await self._blobs.expire_uploads(cutoff)
        stale = await self._store.read(lambda tx: tx.attachments.unsent_before(cutoff, limit))
        gone: list[Attachment] = []
        for attachment in stale:
            if await self._store.write(_deleting(attachment)):  # False: sent meanwhile
                gone.append(attachment)
        await self._forget(gone)
        return expired + len(gone)

    async def _visible(
        self, caller_id: str, conversation_id: str, attachment_id: str, thumbnail: bool
    ) -> Attachment:
        def work(tx: Transaction) -> Attachment:
            membership_of(tx, conversation_id, caller_id)
            found = tx.attachments.get(conversation_id, attachment_id)
            # Unsent, it is its uploader's alone; sent, every member's.
            if found is None or (found.message_id is None and found.uploader_id != caller_id):
                raise NotFound("Attachment not found.")
            if thumbnail and not found.has_thumbnail:
                raise NotFound("That attachment has no thumbnail.")
            return found

        return await self._store.read(work)

    async def _open(self, attachment: Attachment, thumbnail: bool) -> Download:
        key = attachment.thumbnail_key if thumbnail else attachment.storage_key
        body = await started(self._blobs.stream(key))
        inline = thumbnail or attachment.is_image
        return Download(
            body,
            "image/webp" if thumbnail else attachment.content_type,
            None if thumbnail else attachment.size,
            rules.content_disposition(attachment.file_name, inline=inline),
        )

    def _signed_path(self, attachment: Attachment, variant: str, expires: int) -> str:
        signature = self._signature(attachment.conversation_id, attachment.id, variant, expires)
        return (
            f"/api/attachment-files/{quote(attachment.conversation_id)}/{quote(attachment.id)}"
            f"/{variant}?expires={expires}&signature={signature}"
        )

    def _signature(
        self, conversation_id: str, attachment_id: str, variant: str, expires: int
    ) -> str:
        return self._mac(conversation_id, attachment_id, variant, str(expires))

    def _mac(self, *parts: str) -> str:
        """22 URL-safe characters (128 bits) authenticating `parts`, by the server's key."""
        digest = hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()

    async def _forget(self, attachments: list[Attachment]) -> None:
        keys = []
        for attachment in attachments:
            keys.append(attachment.storage_key)
            if attachment.has_thumbnail:
                keys.append(attachment.thumbnail_key)
        await self._forget_keys(keys)

    async def _forget_keys(self, keys: list[str]) -> None:
        for key in keys:
            try:
                await self._blobs.delete(key)
            except Exception:
                log.exception("deleting attachment bytes %s failed; left behind", key)


# What the bytes themselves are refused for: completing again would only refuse again.
_REFUSALS = (PayloadTooLarge, UnsupportedMediaType, ValidationFailed)


def _staged_key(upload_id: str) -> str:
    """Where an upload's bytes wait for `complete_upload` (a bucket expires them)."""
    return f"uploads/{upload_id}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _deleting(attachment: Attachment) -> Callable[[Transaction], bool]:
    return lambda tx: tx.attachments.delete(attachment.conversation_id, attachment.id)


async def started(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`chunks` with its first one already read, so a missing file is `NotFound` (raised
    by the store) before a response has sent any header."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return body()
