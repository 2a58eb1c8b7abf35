"""Profile pictures: the caller sets or removes theirs; anyone may fetch one by its URL.

The upload is the image itself as the request body (like an attachment upload), and
may exceed HUBBUB_MAX_BODY_BYTES up to 5 MiB (`limits.AVATAR_PATH`). The picture is
served without a token (an `<img>` sends none) at an unguessable URL that changes
with every new picture, so it is cached for a year as immutable."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from hubbub.domain.errors import PayloadTooLarge
from hubbub.domain.views import user_view
from hubbub.server import schemas
from hubbub.server.attachments_api import FILE_POLICY
from hubbub.server.deps import PlatformDep, WriterDep
from hubbub.server.openapi import ERRORS
from hubbub.server.responses import json_response
from hubbub.services.avatars import AVATAR_TYPE

router = APIRouter(prefix="/api", tags=["users"], responses=ERRORS)
_BINARY = {"schema": {"type": "string", "format": "binary"}}
SET_DOC = """Makes the image sent as the raw request body (PNG, JPEG, GIF or WebP, up to
5 MiB) the caller's profile picture: it is decoded, turned upright, cropped to its
centred square and re-encoded as a 256x256 WebP with no metadata (EXIF is dropped).
Its new `avatarUrl` reaches the caller's contacts and other devices in `user.updated`;
the previous picture's URL stops working. Too large: 413 `payload_too_large`; not an
image Hubbub reads: 415 `unsupported_media_type`; empty: 422 `validation_error`."""


@router.put(
    "/users/me/avatar",
    response_model=schemas.MeResponse,
    description=SET_DOC,
    responses={415: {"model": schemas.ErrorResponse, "description": "Not an image."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": _BINARY, "image/*": _BINARY},
        }
    },
)
async def set_avatar(request: Request, platform: PlatformDep, caller: WriterDep) -> Response:
    service = platform.avatars
    limit = f"Profile pictures are limited to {service.max_bytes} bytes."
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > service.max_bytes:
        raise PayloadTooLarge(limit)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > service.max_bytes:
            raise PayloadTooLarge(limit)
    user = await service.replace(caller, bytes(data))
    return json_response({"user": user_view(user, with_email=True)})


@router.delete("/users/me/avatar", response_model=schemas.MeResponse)
async def remove_avatar(platform: PlatformDep, caller: WriterDep) -> Response:
    """Removes the caller's profile picture (200 also when there was none); contacts
    hear `user.updated` with `avatarUrl: null`."""
    user = await platform.avatars.remove(caller)
    return json_response({"user": user_view(user, with_email=True)})


@router.get(
    "/avatars/{avatar_id}",
    response_class=Response,
    responses={200: {"content": {AVATAR_TYPE: _BINARY}, "description": "A 256x256 WebP."}},
)
async def avatar(avatar_id: str, platform: PlatformDep) -> Response:
    """A profile picture, by the `avatarUrl` of a user view. No token: the id is random
    (128 bits) and only ever shown to people who may see the user. Unknown (or
    replaced): 404."""
    chunks = await platform.avatars.open(avatar_id)
    headers = {
        "cache-control": "public, max-age=31536000, immutable",
        "x-content-type-options": "nosniff",
        "content-security-policy": FILE_POLICY,
    }
    return StreamingResponse(chunks, media_type=AVATAR_TYPE, headers=headers)
