"""/api/search: full-text search of messages (people: /api/users/search)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from hubbub.domain.search import MAX_QUERY_CHARS
from hubbub.server import schemas
from hubbub.server.deps import CallerDep, PlatformDep
from hubbub.server.openapi import ERRORS
from hubbub.server.responses import json_response

router = APIRouter(prefix="/api/search", tags=["search"], responses=ERRORS)
MESSAGES_DOC = """Messages matching `q` in the conversations the caller is a member of now,
newest first.

Every word of `q` must begin a word of the message, in any order, case-insensitively
("lun tom" finds "Lunch tomorrow?"); words are runs of letters and digits, with no
stemming in any language. Deleted messages are never found; edited ones are found by
their text as edited. A conversation the caller left or was removed from shows nothing,
and naming it (or any conversation they are not in) in `conversationId` is a 404.

Each result has the conversation (`id`, `kind`, `title`: empty for direct chats), the
message as in its history (use its `seq` to open the history there: page with
`before`/`after`), the sender's public profile (null if the account is gone) and a
`snippet`: plain-text segments of the body around the first match, the matched
beginnings of words with `match: true`; render them as text, never as HTML. Call again
with `nextCursor` until it is null. A blank `q`, one with no letter or digit, more than
100 characters or more than 8 words, or a bad cursor is a 422 `validation_error`.
A deployment on DynamoDB (`HUBBUB_STORE=dynamodb`, the serverless one) has no text index
and answers 501 `search_unavailable`: clients hide message search there."""

SEARCH_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    501: {
        "model": schemas.ErrorResponse,
        "description": "`search_unavailable`: this deployment's store (DynamoDB) offers no"
        " message search.",
    }
}


@router.get(
    "/messages",
    response_model=schemas.MessageSearchResponse,
    description=MESSAGES_DOC,
    responses=SEARCH_UNAVAILABLE,
)
async def search_messages(
    platform: PlatformDep,
    caller: CallerDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
    conversation_id: Annotated[str | None, Query(alias="conversationId", max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int | None, Query(ge=1, le=50)] = None,
) -> Response:
    results, next_cursor = await platform.search.messages(caller, q, conversation_id, cursor, limit)
    return json_response({"results": results, "nextCursor": next_cursor})
