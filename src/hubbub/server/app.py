"""The ASGI application: one per platform. Mangum or uvicorn can serve it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.responses import Response

from hubbub import __version__
from hubbub.bootstrap import Platform
from hubbub.server import auth_api, conversations_api, errors, messages_api, users_api, websocket
from hubbub.server.limits import BodyLimit
from hubbub.server.responses import json_response
from hubbub.server.schemas import Health
from hubbub.server.web import SinglePageApp, default_static_dir, placeholder

DESCRIPTION = """The Hubbub chat API. Errors are `{"error": {"code", "message"}}` with a
stable code. Real time is a WebSocket at `/ws?ticket=...`: see docs/websocket.md."""


def create_app(platform: Platform) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await platform.close()

    app = FastAPI(
        title="Hubbub",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.platform = platform
    errors.install(app)
    for router in (auth_api.router, users_api.router, conversations_api.router):
        app.include_router(router)
    app.include_router(messages_api.router)
    app.add_api_websocket_route("/ws", websocket.endpoint)

    @app.get("/healthz", response_model=Health, tags=["operations"])
    async def health() -> Response:
        await platform.store.read(lambda tx: tx.events.head())
        return json_response({"status": "ok", "connections": platform.hub.count()})

    static_dir = platform.settings.static_dir or default_static_dir()
    if (static_dir / "index.html").exists():
        app.mount("/", SinglePageApp(directory=static_dir, html=True), name="web")
    else:

        @app.get("/", include_in_schema=False)
        async def index() -> Response:
            return placeholder()

    app.add_middleware(BodyLimit, max_bytes=platform.settings.max_body_bytes)
    return app
