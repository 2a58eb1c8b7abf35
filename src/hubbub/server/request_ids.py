"""Every HTTP request gets an id, a log line and a count.

The id is the client's `X-Request-ID` when it is a sane token (a proxy or a client
that wants to follow its request through our logs), else a new one. It is set for
every line logged while the request runs and returned in `X-Request-ID` on every
response, errors included. The request's line says method, path, status and duration,
never the query string: WebSocket tickets travel in it.
"""

from __future__ import annotations

import itertools
import logging
import os
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


# New ids: this process's random 64 bits, then a counter (32 hex digits in all).
# Unique across processes and restarts like 128 random bits per request, without a
# getrandom() call on every request (a sixth of a history page's time in a profile).
# An id names a request in the logs; it is no secret and grants nothing.
_PREFIX = secrets.token_hex(8)
_count = itertools.count(1)


def _new_prefix() -> None:
    global _PREFIX
    _PREFIX = secrets.token_hex(8)  # a forked worker must not repeat its parent's ids


os.register_at_fork(after_in_child=_new_prefix)


def incoming_or_new(scope: Scope) -> str:
    """The request's own id when sane, else a new one unique to this request."""
    for name, value in scope["headers"]:
        if name == HEADER and _SANE.fullmatch(value):
            return str(value.decode("ascii"))
    return f"{_PREFIX}{next(_count):016x}"


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
