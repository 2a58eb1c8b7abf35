"""/api/conversations/{id}/attachments: uploads, downloads and short-lived links.

An upload comes in three steps, so that its bytes need not pass through the API (on
AWS they cannot: Lambda takes 6 MB at most): start it (`.../uploads`, checks that need
no bytes), send the bytes where it says (an S3 presigned form POST, or a PUT to a URL
this server signs), complete it (`.../uploads/{id}`: the bytes are checked and the
attachment recorded). The one-request upload stays for clients that have it: the file
itself as the request body, named by `?fileName=`. Those two are the routes whose body
may exceed HUBBUB_MAX_BODY_BYTES (up to HUBBUB_ATTACHMENT_MAX_BYTES: `limits`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from hubbub.server import schemas
from hubbub.server.deps import CallerDep, PlatformDep, WriterDep
from hubbub.server.openapi import ERRORS
from hubbub.server.responses import json_response
from hubbub.services.attachments import AttachmentService, Download

router = APIRouter(prefix="/api", tags=["attachments"], responses=ERRORS)
BASE = "/conversations/{conversation_id}/attachments"
# A downloaded file is never run as a page of this origin, whatever is in it.
FILE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
_BINARY = {"schema": {"type": "string", "format": "binary"}}
UPLOAD_DOC = """Uploads one file, sent as the raw request body, named by `fileName`.

Images (PNG, JPEG, GIF, WebP) are decoded to check them and get a thumbnail, and are
stored without the metadata they carried (EXIF and its GPS position, XMP, comments; a
JPEG keeps its orientation), so `size` may be smaller than the upload; other
files must have an allowed extension (pdf, txt, md, csv, log, zip, docx, xlsx, pptx,
odt, ods, odp, doc, xls, ppt) and bytes that agree with it. Too large: 413
`payload_too_large`; another type, or bytes that are not what the name says: 415
`unsupported_media_type`. The upload stays the caller's alone until a message sends it
(`attachmentIds`); one never sent is deleted after a day."""


@router.post(
    BASE,
    status_code=201,
    response_model=schemas.AttachmentResponse,
    description=UPLOAD_DOC,
    responses={415: {"model": schemas.ErrorResponse, "description": "Type not allowed."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": _BINARY},
        }
    },
)
async def upload(
    conversation_id: str,
    request: Request,
    platform: PlatformDep,
    caller: WriterDep,
    file_name: Annotated[str, Query(alias="fileName", min_length=1, max_length=1000)],
) -> Response:
    service = platform.attachments
    await service.may_upload(caller, conversation_id)  # before reading the body
    view = await service.upload(caller, conversation_id, file_name, await _body(request, service))
    return json_response({"attachment": view}, status=201)


async def _body(request: Request, service: AttachmentService) -> bytes:
    """The request's body, refused (413) as soon as it is known to exceed the limit: by
    its Content-Length, or counted as it arrives."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > service.max_bytes:
        raise service.too_large()
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > service.max_bytes:
            raise service.too_large()
    return bytes(data)


START_DOC = """Starts an upload: checks what can be checked without the bytes (membership,
the name's type, the size the client declares) and says where to send them, without the
access token, until `expiresAt`: `method` PUT sends the raw file to `url` (a path of this
server); `method` POST sends multipart/form-data to `url` (an S3 bucket) with `fields` in
order and the file last, named `file`. Then complete it."""

COMPLETE_DOC = """Completes an upload: its bytes are checked as the one-request upload checks
them (413, 415, 422), the attachment is recorded (201) and the sent bytes dropped; a
refused upload starts over. Completing it again returns the same attachment (200). 404
if nothing was sent for it (or the upload is not the caller's in this conversation)."""


@router.post(
    BASE + "/uploads",
    status_code=201,
    response_model=schemas.UploadResponse,
    description=START_DOC,
    responses={415: {"model": schemas.ErrorResponse, "description": "Type not allowed."}},
)
async def start_upload(
    conversation_id: str,
    body: schemas.UploadStartRequest,
    platform: PlatformDep,
    caller: WriterDep,
) -> Response:
    target = await platform.attachments.start_upload(
        caller, conversation_id, body.file_name, body.size
    )
    return json_response({"upload": target}, status=201)


@router.post(
    BASE + "/uploads/{upload_id}",
    status_code=201,
    response_model=schemas.AttachmentResponse,
    description=COMPLETE_DOC,
    responses={
        200: {"model": schemas.AttachmentResponse, "description": "Completed before."},
        415: {"model": schemas.ErrorResponse, "description": "Type not allowed."},
    },
)
async def complete_upload(
    conversation_id: str,
    upload_id: Annotated[str, Path(max_length=100)],
    body: schemas.UploadCompleteRequest,
    platform: PlatformDep,
    caller: WriterDep,
) -> Response:
    view, created = await platform.attachments.complete_upload(
        caller, conversation_id, upload_id, body.file_name
    )
    return json_response({"attachment": view}, status=201 if created else 200)


@router.put(
    "/attachment-uploads/{upload_id}",
    status_code=204,
    response_class=Response,
    description="Takes the bytes of an upload started with `.../uploads` where the store has"
    " no URLs of its own (local disk): the raw file as the body. No token: the URL is signed.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": _BINARY},
        }
    },
)
async def receive_upload(
    upload_id: Annotated[str, Path(max_length=100)],
    request: Request,
    platform: PlatformDep,
    expires: Annotated[int, Query(ge=0, lt=2**53)],
    signature: Annotated[str, Query(max_length=100)],
) -> Response:
    service = platform.attachments
    service.check_upload_url(upload_id, expires, signature)  # before reading the body
    data = await _body(request, service)
    await service.receive_upload(upload_id, expires, signature, data)
    return Response(status_code=204)


@router.get(
    BASE + "/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"*/*": _BINARY}, "description": "The file, with its type."}},
)
async def download(
    conversation_id: str, attachment_id: str, platform: PlatformDep, caller: CallerDep
) -> Response:
    found = await platform.attachments.download(
        caller, conversation_id, attachment_id, thumbnail=False
    )
    return _file(found, "private, no-store")


@router.get(
    BASE + "/{attachment_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/webp": _BINARY}, "description": "A WebP thumbnail."}},
)
async def thumbnail(
    conversation_id: str, attachment_id: str, platform: PlatformDep, caller: CallerDep
) -> Response:
    found = await platform.attachments.download(
        caller, conversation_id, attachment_id, thumbnail=True
    )
    return _file(found, "private, no-store")


@router.get(
    BASE + "/{attachment_id}/link",
    response_model=schemas.AttachmentLinks,
    description="Short-lived URLs of the file and its thumbnail that need no access token"
    " (for `<img src>` and download links): presigned by the S3 bucket, or signed by"
    " this server.",
)
async def link(
    conversation_id: str, attachment_id: str, platform: PlatformDep, caller: CallerDep
) -> Response:
    links = await platform.attachments.link(caller, conversation_id, attachment_id)
    return json_response(links)


@router.get(
    "/attachment-files/{conversation_id}/{attachment_id}/{variant}",
    response_class=Response,
    responses={200: {"content": {"*/*": _BINARY}, "description": "The file, with its type."}},
    description="What a signed URL from `.../link` serves, until it expires. No token.",
)
async def signed(
    conversation_id: str,
    attachment_id: str,
    variant: str,
    platform: PlatformDep,
    expires: Annotated[int, Query(ge=0, lt=2**53)],
    signature: Annotated[str, Query(max_length=100)],
) -> Response:
    found = await platform.attachments.download_signed(
        conversation_id, attachment_id, variant, expires, signature
    )
    return _file(found, "private, max-age=60")


def _file(found: Download, cache: str) -> Response:
    headers = {
        "content-disposition": found.disposition,
        "x-content-type-options": "nosniff",
        "content-security-policy": FILE_POLICY,
        "cache-control": cache,
    }
    if found.size is not None:
        headers["content-length"] = str(found.size)
    return StreamingResponse(found.chunks, media_type=found.content_type, headers=headers)
