"""/api/conversations/{id}/messages and /api/sync."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from hubbub.server import schemas
from hubbub.server.deps import CallerDep, PlatformDep, WriterDep
from hubbub.server.openapi import BLOCKED, ERRORS
from hubbub.server.responses import json_response

router = APIRouter(prefix="/api", tags=["messages"], responses=ERRORS)
BASE = "/conversations/{conversation_id}/messages"
SYNC_DOC = """Every durable event the caller missed after `since`, as the WebSocket's frames.

`since` is a resume cursor: the `cursor` of the previous page or of the WebSocket's
`hello` (never an event's own `cursor`, which is only its id). `0` starts from nothing:
each of the caller's conversations comes as one `conversation.created` with the whole
conversation. Without `since`: no events and the current cursor. Call again with the
returned cursor until `hasMore` is false.

Order is oldest first within each conversation (by `eventSeq`), not across
conversations. Conversations the caller joined since come whole (`conversation.created`),
ones they left come as their `member.removed` (or `conversation.deleted`) and nothing
more; events show messages and titles as they are now. An unknown or expired cursor, or
one from an older release, gets 410 `cursor_expired`: reload, then start again from a
fresh cursor."""


@router.get(BASE, response_model=schemas.MessagesResponse)
async def history(
    conversation_id: str,
    platform: PlatformDep,
    caller: CallerDep,
    before: Annotated[int | None, Query(ge=1, lt=2**53)] = None,
    after: Annotated[int | None, Query(ge=0, lt=2**53)] = None,
    limit: Annotated[int | None, Query(ge=1, le=200)] = None,
) -> Response:
    body = await platform.messages.history_body(
        caller, conversation_id, before, after, limit, orjson.dumps
    )
    return Response(body, media_type="application/json")


@router.post(
    BASE,
    status_code=201,
    response_model=schemas.MessageResponse,
    responses={
        200: {"model": schemas.MessageResponse, "description": "A retry: the original."},
        **BLOCKED,
    },
)
async def send(
    conversation_id: str, body: schemas.SendRequest, platform: PlatformDep, caller: WriterDep
) -> Response:
    change = await platform.messages.send(
        caller,
        conversation_id,
        body.client_message_id,
        body.body,
        attachment_ids=body.attachment_ids,
        reply_to_id=body.reply_to_id,
    )
    return json_response({"message": change.message}, status=201 if change.created else 200)


@router.get(BASE + "/{message_id}", response_model=schemas.MessageResponse)
async def get_message(
    conversation_id: str, message_id: str, platform: PlatformDep, caller: CallerDep
) -> Response:
    message = await platform.messages.get(caller, conversation_id, message_id)
    return json_response({"message": message})


@router.patch(BASE + "/{message_id}", response_model=schemas.MessageResponse, responses=BLOCKED)
async def edit(
    conversation_id: str,
    message_id: str,
    body: schemas.EditRequest,
    platform: PlatformDep,
    caller: WriterDep,
) -> Response:
    change = await platform.messages.edit(caller, conversation_id, message_id, body.body)
    return json_response({"message": change.message})


@router.delete(BASE + "/{message_id}", status_code=204)
async def delete(
    conversation_id: str, message_id: str, platform: PlatformDep, caller: WriterDep
) -> Response:
    await platform.messages.delete(caller, conversation_id, message_id)
    return Response(status_code=204)


REACTION_DOC = """{verb} the caller's `emoji` on a message (one of 👍 ❤️ 😂 😮 😢 🙏,
percent-encoded; with or without U+FE0F). Idempotent: {again} changes nothing and
publishes nothing. Each change is a `{event}` event to every member. Answers with the
message and its reactions. A deleted message takes no reactions (409 `conflict`); an
emoji outside the set is 422 `validation_error` (`details.field` = `emoji`)."""


@router.put(
    BASE + "/{message_id}/reactions/{emoji}",
    response_model=schemas.MessageResponse,
    description=REACTION_DOC.format(
        verb="Adds", again="adding one that is there", event="reaction.added"
    ),
)
async def add_reaction(
    conversation_id: str, message_id: str, emoji: str, platform: PlatformDep, caller: WriterDep
) -> Response:
    change = await platform.messages.react(caller, conversation_id, message_id, emoji, True)
    return json_response({"message": change.message})


@router.delete(
    BASE + "/{message_id}/reactions/{emoji}",
    response_model=schemas.MessageResponse,
    description=REACTION_DOC.format(
        verb="Takes back", again="taking back one that is not there", event="reaction.removed"
    ),
)
async def remove_reaction(
    conversation_id: str, message_id: str, emoji: str, platform: PlatformDep, caller: WriterDep
) -> Response:
    change = await platform.messages.react(caller, conversation_id, message_id, emoji, False)
    return json_response({"message": change.message})


@router.get("/sync", response_model=schemas.SyncResponse, description=SYNC_DOC)
async def sync(
    platform: PlatformDep,
    caller: CallerDep,
    since: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
) -> Response:
    events, cursor, has_more = await platform.sync.sync(caller, since, limit)
    return json_response({"events": events, "cursor": cursor, "hasMore": has_more})
