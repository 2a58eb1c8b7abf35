"""Shared OpenAPI declarations."""

from __future__ import annotations

from typing import Any

from hubbub.server.schemas import ErrorResponse

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Unreadable request body, e.g. not UTF-8 (`validation_error`).",
        401: "Missing, invalid or expired access token (`unauthorized`).",
        403: "Not allowed (`forbidden`, `user_not_confirmed`).",
        404: "Unknown, or not visible to the caller (`not_found`).",
        409: "Conflicts with the current state (`conflict`).",
        410: "A sync cursor the server no longer knows (`cursor_expired`): reload, then"
        " sync from a fresh cursor.",
        413: "Body too large (`payload_too_large`).",
        422: "Invalid input (`validation_error`).",
        429: "Too many attempts (`rate_limited`, with Retry-After).",
    }.items()
}

# A direct chat where either of the pair blocked the other (PUT /api/users/{id}/block).
BLOCKED: dict[int | str, dict[str, Any]] = {
    403: {
        "model": ErrorResponse,
        "description": "`blocked`: one of this direct chat's pair blocked the other, so nothing"
        " is sent (or started) until the block is lifted; the message says which side the"
        ' caller is on ("You blocked this user. Unblock them ..." or "You can\'t send'
        ' messages to this chat."). Also `forbidden`, as everywhere.',
    }
}
