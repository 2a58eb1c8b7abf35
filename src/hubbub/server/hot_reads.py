"""The history page without the framework: `GET /api/conversations/{id}/messages`.

The most frequent REST call a client makes (every conversation it opens, every scroll),
and one whose routing, dependency solving and parameter validation in FastAPI cost
more than the page itself. This ASGI layer answers the ordinary request (a bearer
token, well-formed `before` / `after` / `limit`) itself, with the same service call,
the same JSON and the same errors; anything else it does not recognise (another
route, another method, a missing or odd `Authorization`, a query FastAPI would refuse)
goes on to FastAPI, which answers it as before. The OpenAPI document still comes from
the FastAPI route (`messages_api.history`), so the contract is declared once.
"""

from __future__ import annotations

import logging

import orjson
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from hubbub.bootstrap import Platform
from hubbub.domain.errors import DomainError
from hubbub.server.errors import domain_error_response, error_response

log = logging.getLogger("hubbub")

PREFIX = "/api/conversations/"
SUFFIX = "/messages"
# name -> (smallest, largest) of the query parameters the route takes (as in its
# FastAPI declaration).
_BOUNDS = {"before": (1, 2**53 - 1), "after": (0, 2**53 - 1), "limit": (1, 200)}
_JSON = [(b"content-type", b"application/json")]


def _query(raw: bytes) -> dict[str, int] | None:
    """The parameters of a plain query string, or None for anything FastAPI should see
    (an unknown, repeated, empty, non-decimal or out-of-range value)."""
    found: dict[str, int] = {}
    if not raw:
        return found
    for part in raw.split(b"&"):
        name, sep, value = part.partition(b"=")
        key = name.decode("latin-1")
        bounds = _BOUNDS.get(key)
        if not sep or bounds is None or key in found:
            return None
        if not (value.isdigit() and len(value) <= 16):
            return None
        number = int(value)
        if not bounds[0] <= number <= bounds[1]:
            return None
        found[key] = number
    return found


def _conversation_id(path: str) -> str | None:
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
        return None
    middle = path[len(PREFIX) : -len(SUFFIX)]
    return middle if middle and "/" not in middle else None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" and token else None
    return None


class HotReads:
    """ASGI middleware: serves the history page, passes everything else to `app`."""

    def __init__(self, app: ASGIApp, platform: Platform, route: BaseRoute | None) -> None:
        self.app = app
        self._platform = platform
        # The FastAPI route, so metrics and logs name the same route template.
        self._route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        conversation_id = _conversation_id(scope["path"])
        query = _query(scope["query_string"]) if conversation_id is not None else None
        token = _bearer(scope) if query is not None else None
        if conversation_id is None or query is None or token is None:
            await self.app(scope, receive, send)
            return
        if self._route is not None:
            scope["route"] = self._route
        platform = self._platform
        try:
            session = await platform.auth.authenticate(token)
            body = await platform.messages.history_body(
                session.user_id,
                conversation_id,
                query.get("before"),
                query.get("after"),
                query.get("limit"),
                orjson.dumps,
            )
        except DomainError as error:
            await domain_error_response(error)(scope, receive, send)
            return
        except Exception:
            log.exception("unhandled error on GET %s", scope["path"])
            response = error_response(500, "internal_error", "Something went wrong on our side.")
            await response(scope, receive, send)
            return
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
