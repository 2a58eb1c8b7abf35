"""/api/conversations: direct chats, groups, members and read markers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hubbub.server import schemas
from hubbub.server.deps import CallerDep, PlatformDep, WriterDep
from hubbub.server.openapi import BLOCKED, ERRORS
from hubbub.server.responses import json_response

router = APIRouter(prefix="/api/conversations", tags=["conversations"], responses=ERRORS)


@router.post(
    "/direct",
    status_code=201,
    response_model=schemas.ConversationResponse,
    responses={
        200: {"model": schemas.ConversationResponse, "description": "Already existed."},
        **BLOCKED,
    },
)
async def open_direct(
    body: schemas.DirectRequest, platform: PlatformDep, caller: WriterDep
) -> Response:
    conversation, created = await platform.conversations.open_direct(caller, body.user_id)
    return json_response({"conversation": conversation}, status=201 if created else 200)


@router.post("", status_code=201, response_model=schemas.ConversationResponse)
async def create_group(
    body: schemas.GroupRequest, platform: PlatformDep, caller: WriterDep
) -> Response:
    conversation = await platform.conversations.create_group(caller, body.title, body.member_ids)
    return json_response({"conversation": conversation}, status=201)


@router.get("", response_model=schemas.ConversationsResponse)
async def list_conversations(
    platform: PlatformDep,
    caller: CallerDep,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    page, next_cursor = await platform.conversations.recent(caller, limit, cursor)
    return json_response({"conversations": page, "nextCursor": next_cursor})


@router.get("/{conversation_id}", response_model=schemas.ConversationResponse)
async def get_conversation(
    conversation_id: str, platform: PlatformDep, caller: CallerDep
) -> Response:
    conversation = await platform.conversations.get(caller, conversation_id)
    return json_response({"conversation": conversation})


@router.get(
    "/{conversation_id}/events",
    response_model=schemas.EventsResponse,
    description="The conversation's log after `after` (an `eventSeq`), oldest first, shown"
    " as it is now: how a client fills a gap it sees in `eventSeq`. Members only.",
)
async def conversation_events(
    conversation_id: str,
    platform: PlatformDep,
    caller: CallerDep,
    after: Annotated[int, Query(ge=0, lt=2**53)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
) -> Response:
    events, has_more, last = await platform.sync.events(caller, conversation_id, after, limit)
    return json_response({"events": events, "hasMore": has_more, "lastEventSeq": last})


@router.patch("/{conversation_id}", response_model=schemas.ConversationResponse)
async def rename(
    conversation_id: str, body: schemas.RenameRequest, platform: PlatformDep, caller: WriterDep
) -> Response:
    """Rename a group. Only its owner may: anyone else gets 403 `forbidden` (so do
    direct conversations, which have no title). Members hear `conversation.updated`."""
    conversation = await platform.conversations.rename(caller, conversation_id, body.title)
    return json_response({"conversation": conversation})


@router.delete("/{conversation_id}", status_code=204)
async def delete(conversation_id: str, platform: PlatformDep, caller: WriterDep) -> Response:
    await platform.conversations.delete(caller, conversation_id)
    return Response(status_code=204)


@router.get("/{conversation_id}/members", response_model=schemas.MembersResponse)
async def members(conversation_id: str, platform: PlatformDep, caller: CallerDep) -> Response:
    found = await platform.conversations.members(caller, conversation_id)
    return json_response({"members": found})


@router.post("/{conversation_id}/members", response_model=schemas.ConversationResponse)
async def add_member(
    conversation_id: str,
    body: schemas.AddMemberRequest,
    platform: PlatformDep,
    caller: WriterDep,
) -> Response:
    conversation = await platform.conversations.add_member(caller, conversation_id, body.user_id)
    return json_response({"conversation": conversation})


@router.delete("/{conversation_id}/members/{user_id}", status_code=204)
async def remove_member(
    conversation_id: str, user_id: str, platform: PlatformDep, caller: WriterDep
) -> Response:
    await platform.conversations.remove_member(caller, conversation_id, user_id)
    return Response(status_code=204)


@router.post("/{conversation_id}/read", response_model=schemas.ReadResponse)
async def mark_read(
    conversation_id: str, body: schemas.ReadRequest, platform: PlatformDep, caller: WriterDep
) -> Response:
    read_seq, _ = await platform.conversations.mark_read(caller, conversation_id, body.seq)
    return json_response({"readSeq": read_seq})


@router.put(
    "/{conversation_id}/mute",
    response_model=schemas.MuteResponse,
    description="Mute the conversation for yourself until `until` (null: until unmuted);"
    " replaces any mute you had. Your other devices hear `conversation.muted`; the other"
    " members learn nothing. Members only (404 otherwise); `until` in the past or without"
    " an offset is 422 `validation_error`.",
)
async def mute(
    conversation_id: str, body: schemas.MuteRequest, platform: PlatformDep, caller: WriterDep
) -> Response:
    state = await platform.conversations.mute(caller, conversation_id, body.until)
    return json_response(state)


@router.delete(
    "/{conversation_id}/mute",
    response_model=schemas.MuteResponse,
    description="Unmute (nothing changes if it was not muted). Members only.",
)
async def unmute(conversation_id: str, platform: PlatformDep, caller: WriterDep) -> Response:
    state = await platform.conversations.unmute(caller, conversation_id)
    return json_response(state)
