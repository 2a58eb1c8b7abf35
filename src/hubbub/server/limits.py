"""Refuses request bodies over the configured size with 413, before they are parsed.

A few routes may take more (attachment uploads, profile pictures): `larger` names
each (method and path pattern) with its own limit; every other route keeps the small
one."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubbub.server.errors import error_response

# The attachment upload route (server/attachments_api.py): its body may be larger, and
# take longer to arrive, than any other's.
UPLOAD_PATH = re.compile(r"^/api/conversations/[^/]+/attachments/?$")
# Where an upload's bytes go when the store has no URLs of its own (PUT, signed).
STAGED_UPLOAD_PATH = re.compile(r"^/api/attachment-uploads/[^/]+/?$")
# The profile picture upload (server/users_api.py): an image, up to a few MiB.
AVATAR_PATH = re.compile(r"^/api/users/me/avatar/?$")


def larger_bodies(
    attachment_max_bytes: int, avatar_max_bytes: int
) -> tuple[tuple[str, re.Pattern[str], int], ...]:
    """The upload routes (method, path) with their own body limits: `BodyLimit`'s
    `larger`, and, for the transport, the routes whose bodies may take longer."""
    return (
        ("POST", UPLOAD_PATH, attachment_max_bytes),
        ("PUT", STAGED_UPLOAD_PATH, attachment_max_bytes),
        ("PUT", AVATAR_PATH, avatar_max_bytes),
    )


def is_upload(method: str, path: str) -> bool:
    return any(m == method and p.match(path) for m, p, _ in larger_bodies(0, 0))


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: tuple[tuple[str, re.Pattern[str], int], ...] = (),
    ) -> None:
        self._app = app
        self._max = max_bytes
        self._larger = larger

    def _limit(self, scope: Scope) -> int:
        for method, path, limit in self._larger:
            if scope["method"] == method and path.match(scope["path"]):
                return limit
        return self._max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                # Answer 413 here: the framework turns errors raised while it reads
                # the body into a 400, which is then dropped by tracking_send.
                if not started and not refused:
                    refused = True
                    await self._refuse(scope, receive, send, limit)
                raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started and not refused:
                await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        message = f"Request bodies are limited to {limit} bytes."
        await error_response(413, "payload_too_large", message)(scope, receive, send)
