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


@router.get("/{user_id}", response_model=schemas.UserResponse)
async def get_user(user_id: str, platform: PlatformDep, caller: CallerDep) -> Response:
    """A public profile; with `lastSeenAt` only for the user's contacts (anyone who shares
    a conversation with them): a stranger cannot watch when someone is online."""
    user, contact = await platform.users.get_as_seen_by(caller, user_id)
    return json_response({"user": user_view(user, as_contact=contact)})
