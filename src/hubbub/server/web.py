"""Serves the built web app with a fallback to index.html for client-side routes."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PLACEHOLDER = """<!doctype html><meta charset="utf-8"><title>Hubbub</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto">
<h1>Hubbub is running</h1><p>The web app has not been built. Run <code>make run</code>
(or <code>npm ci --prefix web &amp;&amp; npm run build --prefix web</code>). The API is at
<a href="/api/docs">/api/docs</a>.</p></body>"""


class SinglePageApp(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.startswith(("api/", "ws")):
            raise HTTPException(status_code=404, detail="Not Found")
        try:
            response = await super().get_response(path, scope)
        except HTTPException as error:
            if error.status_code != 404:
                raise
            return await super().get_response("index.html", scope)
        if response.status_code == 404:
            return await super().get_response("index.html", scope)
        return response


def default_static_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "static"


def placeholder() -> HTMLResponse:
    return HTMLResponse(PLACEHOLDER)
