"""/api/users: the caller's profile, search and public profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hubbub.domain.views import user_view
from hubbub.server import schemas
from hubbub.server.deps import CallerDep, PlatformDep, WriterDep
from hubbub.server.openapi import ERRORS
from hubbub.server.responses import json_response

router = APIRouter(prefix="/api/users", tags=["users"], responses=ERRORS)


@router.get("/me", response_model=schemas.MeResponse)
async def me(platform: PlatformDep, caller: CallerDep) -> Response:
    user = await platform.users.get(caller)
    return json_response({"user": user_view(user, with_email=True)})


@router.patch("/me", response_model=schemas.MeResponse)
async def update_me(
    body: schemas.UpdateMeRequest, platform: PlatformDep, caller: WriterDep
) -> Response:
    user = await platform.users.update_display_name(caller, body.display_name)
    return json_response({"user": user_view(user, with_email=True)})


SEARCH_DOC = """Confirmed users other than the caller whose username begins with `q`, or each
of whose words of `q` begins a word of their display name, in any order and case ("mar lee"
finds "Ann Marie Lee"; "arie" does not), ordered by username. Words are runs of letters and
digits. A blank `q` is a 422 `validation_error`."""


@router.get("/search", response_model=schemas.UsersResponse, description=SEARCH_DOC)
async def search(
    platform: PlatformDep,
    caller: CallerDep,
    q: Annotated[str, Query(min_length=1, max_length=64)],
    limit: Annotated[int | None, Query(ge=1, le=50)] = None,
) -> Response:
    users = await platform.users.search(caller, q, limit)
    return json_response({"users": [user_view(u) for u in users]})


@router.get("/me/blocked", response_model=schemas.BlockedUsersResponse)
async def blocked_users(platform: PlatformDep, caller: CallerDep) -> Response:
    """Everyone the caller blocked, most recently blocked first. Only the caller sees
    it: nobody is ever told whom they were blocked by."""
    return json_response({"blocked": await platform.blocks.blocked_by(caller)})


@router.put("/{user_id}/block", response_model=schemas.BlockResponse)
async def block_user(user_id: str, platform: PlatformDep, caller: WriterDep) -> Response:
    """Block a user. Idempotent. Yourself: 422 `validation_error`; unknown: 404.

    **What the blocker sees:** their direct chat with the user stays, history readable;
    its view says `blocked: true, canSend: false` (the app shows "You blocked NAME.
    Unblock" instead of the composer), and their own sends there get 403 `blocked`
    until they unblock. Starting a direct chat with the user gets 403 `blocked`.
    Every device of theirs hears `conversation.updated` with `changes: {blocked: true,
    canSend: false}`. The user no longer appears online to them, nor they to the user.

    **What the blocked user sees:** no notice of the block itself and never the block
    list. Their direct chat stays readable; its view says `blocked: false, canSend:
    false` (they also hear `conversation.updated` with those `changes`), and a send or
    an edit there gets 403 `blocked` "You can't send messages to this chat." with nothing
    stored or delivered. Starting a new direct chat gets 403 `blocked`. The blocker's
    presence goes `offline` for them, and their typing is not told.

    **Groups** are unaffected: both keep sending and reading in groups they share."""
    user = await platform.blocks.block(caller, user_id)
    return json_response({"user": user, "blocked": True})


@router.delete("/{user_id}/block", status_code=204, response_class=Response)
async def unblock_user(user_id: str, platform: PlatformDep, caller: WriterDep) -> Response:
    """Lift the caller's block (idempotent: 204 also when there was none). A block the
    other user holds stays. Both sides hear `conversation.updated` in their direct chat
    with their new `blocked`/`canSend`, and see each other's presence again."""
    await platform.blocks.unblock(caller, user_id)
    return Response(status_code=204)


@router.get("/{user_id}", response_model=schemas.UserResponse)
async def get_user(user_id: str, platform: PlatformDep, caller: CallerDep) -> Response:
    """A public profile; with `lastSeenAt` only for the user's contacts (anyone who shares
    a conversation with them, unless either blocked the other): a stranger cannot watch
    when someone is online."""
    user, contact = await platform.users.get_as_seen_by(caller, user_id)
    return json_response({"user": user_view(user, as_contact=contact)})
