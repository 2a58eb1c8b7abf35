"""Every HTTP request gets an id, a log line and a count.

The id is the client's `X-Request-ID` when it is a sane token (a proxy or a client
that wants to follow its request through our logs), else a new one. It is set for
every line logged while the request runs and returned in `X-Request-ID` on every
response, errors included. The request's line says method, path, status and duration,
never the query string: WebSocket tickets travel in it.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubbub.adapters import prometheus
from hubbub.server.logs import request_id

log = logging.getLogger("hubbub.http")

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._-]{1,64}")
# A method outside these is counted as "other": the label set stays bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def incoming_or_new(scope: Scope) -> str:
    """The request's own id when sane, else 16 random bytes in hex."""
    for name, value in scope["headers"]:
        if name == HEADER and _SANE.fullmatch(value):
            return str(value.decode("ascii"))
    return secrets.token_hex(16)


class RequestIds:
    """ASGI middleware for HTTP (anything else passes through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_or_new(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500  # unless a response starts: the app failed before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                headers.append((HEADER, rid.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _finished(scope, status, time.perf_counter() - started)
            request_id.reset(token)


def _finished(scope: Scope, status: int, seconds: float) -> None:
    method = scope["method"] if scope["method"] in _METHODS else "other"
    prometheus.HTTP_REQUESTS.labels(
        method=method, route=route_of(scope), status=f"{status // 100}xx"
    ).inc()
    log.info(
        "%s %s %d %.1fms",
        scope["method"],
        scope["path"],
        status,
        seconds * 1000,
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        },
    )


def route_of(scope: Scope) -> str:
    """The template of the route that answered (`/api/conversations/{conversation_id}`),
    `/*` for the web app's files, `unmatched` when none did: never the raw path, whose
    ids would make a new series per conversation."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    if isinstance(route, Mount):
        return f"{route.path}/*"
    return str(getattr(route, "path", "unmatched"))
