"""The HTTP API's Lambda handlers: one per microservice, each Mangum over an ASGI app
that mounts only that service's routers from `hubbub.server` (the routes, their
validation and their errors are the local server's own, not written twice).

Every response keeps the local server's shape: errors are `{"error": {"code",
"message"}}` with stable codes (`hubbub.server.errors`), every response carries
`X-Request-ID` and the security headers, bodies are size-limited the same way. The app
is built at the first invocation, not at import (see `hubbub.aws.platform`).
"""

from __future__ import annotations

import importlib
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from hubbub.aws import platform

# Named after the package's logger: every `hubbub.*` line comes out as Powertools' JSON
# with the Lambda context and the correlation id (API Gateway's request id).
logger = Logger(service="hubbub")

# Which `hubbub.server` routers each service mounts (see the package docstring for
# the routes each serves).
ROUTERS: dict[str, tuple[str, ...]] = {
    "auth": ("auth_api",),
    "conversations": ("conversations_api", "users_api", "avatars_api"),
    "messages": ("messages_api", "attachments_api", "search_api"),
}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def auth(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """/api/auth/*: sign-up, confirm, resend, sign-in, refresh, sign-out, ws-ticket."""
    return _serve("auth", event, context)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def conversations(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """/api/conversations* (but messages and attachments), /api/users*."""
    return _serve("conversations", event, context)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def messages(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """/api/conversations/{id}/messages*, .../attachments*, /api/attachment-files/*,
    /api/sync, /api/search/messages."""
    return _serve("messages", event, context)


def _serve(service: str, event: dict[str, Any], context: Any) -> dict[str, Any]:
    adapter = platform.cached(f"http:{service}", lambda: _adapter(service))
    response: dict[str, Any] = adapter(event, context)
    return response


def _adapter(service: str) -> Any:
    from mangum import Mangum

    platform.loop()  # Mangum runs requests on the container's loop
    return Mangum(app(service), lifespan="off")


def app(service: str) -> Any:
    """The ASGI app of one service, wrapped as the local server wraps its own (request
    ids, security headers, body limits; the platform's background tasks do not run on
    Lambda: a frozen process cannot keep them)."""
    from fastapi import FastAPI

    from hubbub.server import errors
    from hubbub.server.headers import SecurityHeaders
    from hubbub.server.limits import BodyLimit, larger_bodies
    from hubbub.server.request_ids import RequestIds

    core = platform.core()
    api = FastAPI(
        title=f"Hubbub {service}",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    api.state.platform = core
    errors.install(api)
    for name in ROUTERS[service]:
        api.include_router(importlib.import_module(f"hubbub.server.{name}").router)
    if service == "conversations":  # it has /healthz, /readyz and the catch-all /api/{proxy+}
        api.include_router(_operations(core))
    settings = core.settings
    api.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger=larger_bodies(settings.attachment_max_bytes, core.avatars.max_bytes),
    )
    return RequestIds(SecurityHeaders(api, core.file_origins))


def _operations(core: Any) -> Any:
    """The probes, and the whole API's contract (/api/openapi.json, /api/docs) as
    `hubbub serve` serves it: the document is the local app's own, built at the first
    request for it (CloudFront serves the web build's Swagger UI on /api-docs/)."""
    from fastapi import APIRouter
    from starlette.responses import Response

    from hubbub.server import operations
    from hubbub.server.responses import json_response

    routes: APIRouter = operations.probes(core)

    @routes.get("/api/openapi.json", include_in_schema=False)
    async def openapi() -> Response:
        def document() -> Any:
            from hubbub.server.app import create_app

            return create_app(core).api.openapi()

        return json_response(platform.cached("openapi", document))

    @routes.get("/api/docs", include_in_schema=False)
    async def docs() -> Response:
        from hubbub.server.app import docs_page

        return docs_page(bundled=True)

    return routes
