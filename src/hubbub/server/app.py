"""The ASGI application: one per platform. Mangum or uvicorn can serve it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from hubbub import __version__
from hubbub.adapters import prometheus
from hubbub.bootstrap import Platform
from hubbub.server import (
    attachments_api,
    auth_api,
    avatars_api,
    conversations_api,
    errors,
    messages_api,
    operations,
    search_api,
    users_api,
    websocket,
)
from hubbub.server.headers import SecurityHeaders
from hubbub.server.hot_reads import HotReads
from hubbub.server.limits import BodyLimit, larger_bodies
from hubbub.server.proxies import TrustedProxies
from hubbub.server.request_ids import RequestIds
from hubbub.server.web import SinglePageApp, default_static_dir, placeholder

DESCRIPTION = """The Hubbub chat API. Errors are `{"error": {"code", "message"}}` with a
stable code. Real time is a WebSocket at `/ws?ticket=...`: see docs/websocket.md."""


class HubbubApp:
    """The ASGI entry point: `/ws` goes straight to the WebSocket endpoint, everything
    else to the FastAPI app. An idle WebSocket then holds no routing, dependency or
    middleware state for its whole life (about a fifth of its memory)."""

    def __init__(self, api: FastAPI, platform: Platform) -> None:
        self.api = api
        self.platform = platform
        # Outside FastAPI's own middleware, so even its 500s carry the headers (and the
        # request id, which every line logged for the request carries too).
        history = next(
            r
            for r in messages_api.router.routes
            if getattr(r, "endpoint", None) is messages_api.history
        )
        self._http = RequestIds(
            SecurityHeaders(HotReads(api, platform, history), platform.file_origins)
        )
        trusted = platform.settings.trusted_proxies
        # Outermost, so /ws and every response see the client a trusted proxy names.
        self._entry = TrustedProxies(self._route, trusted) if trusted else self._route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._entry(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            await websocket.serve(self.platform, WebSocket(scope, receive, send))
        else:
            await self._http(scope, receive, send)


def docs_page(*, bundled: bool) -> Response:
    """Swagger UI over /api/openapi.json: the web build's copy (`bundled`: served from
    this origin, as the CSP wants), else a CDN's."""
    if not bundled:
        return get_swagger_ui_html(openapi_url="/api/openapi.json", title="Hubbub API")
    return get_swagger_ui_html(
        openapi_url="/api/openapi.json",
        title="Hubbub API",
        swagger_js_url="/api-docs/swagger-ui-bundle.js",
        swagger_css_url="/api-docs/swagger-ui.css",
        swagger_favicon_url="/favicon.svg",
    )


def create_app(platform: Platform) -> HubbubApp:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await platform.start()
        yield
        await platform.close()
        prometheus.process_exiting()

    app = FastAPI(
        title="Hubbub",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.platform = platform
    errors.install(app)
    for router in (auth_api.router, users_api.router, conversations_api.router):
        app.include_router(router)
    app.include_router(messages_api.router)
    app.include_router(attachments_api.router)
    app.include_router(avatars_api.router)
    app.include_router(search_api.router)

    app.include_router(operations.router(platform))

    static_dir = platform.settings.static_dir or default_static_dir()

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> Response:
        # The web build ships Swagger UI, so the docs work on a machine with no internet.
        return docs_page(bundled=(static_dir / "api-docs" / "swagger-ui-bundle.js").exists())

    if (static_dir / "index.html").exists():
        app.mount("/", SinglePageApp(directory=static_dir, html=True), name="web")
    else:

        @app.get("/", include_in_schema=False)
        async def index() -> Response:
            return placeholder()

    settings = platform.settings
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger=larger_bodies(settings.attachment_max_bytes, platform.avatars.max_bytes),
    )
    return HubbubApp(app, platform)
