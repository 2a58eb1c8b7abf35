"""Serves the built web app with a fallback to index.html for client-side routes.

The build writes a `.br` and a `.gz` copy beside each large text file (web/vite.config.ts);
a browser that accepts one gets it, with `Content-Encoding` and `Vary: Accept-Encoding`, so
the app's ~430 KB of script and style travel as ~110 KB. Vite's files under /assets/ carry
a content hash in their names and are cached for a year; pages are revalidated on every
load (a 304 when unchanged); anything else is cached briefly.
"""

from __future__ import annotations

import os
from mimetypes import guess_type
from pathlib import Path

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import NotModifiedResponse, PathLike, StaticFiles
from starlette.types import Scope

PLACEHOLDER = """<!doctype html><meta charset="utf-8"><title>Hubbub</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto">
<h1>Hubbub is running</h1><p>The web app has not been built. Run <code>make run</code>
(or <code>npm ci --prefix web &amp;&amp; npm run build --prefix web</code>). The API is at
<a href="/api/docs">/api/docs</a>.</p></body>"""

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SHORT = "public, max-age=3600"
# Preferred first: brotli is ~15% smaller than gzip on the app's script.
_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
# Read on every load and changed without a new name: the page and its runtime config.
_REVALIDATED = (".html", ".json")


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

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file, or its compressed copy when the request accepts that encoding, with
        the cache policy for its kind; a 304 when the request's validator still matches."""
        request_headers = Headers(scope=scope)
        path = str(full_path)
        headers = {"cache-control": cache_control(path, str(self.directory))}
        sent, sent_stat = path, stat_result
        encoded = _variant(path, request_headers.get("accept-encoding", ""))
        if encoded is not None:
            encoding, sent = encoded
            sent_stat = os.stat(sent)
            headers["content-encoding"] = encoding
        if encoded is not None or _has_variant(path):
            headers["vary"] = "Accept-Encoding"
        response = FileResponse(
            sent,
            status_code=status_code,
            stat_result=sent_stat,
            headers=headers,
            # The type of what was compressed, not of ".br"/".gz".
            media_type=guess_type(path)[0] or "text/plain",
        )
        if self.is_not_modified(response.headers, request_headers):
            return NotModifiedResponse(response.headers)
        return response


def cache_control(path: str, directory: str) -> str:
    """Hashed build output never changes under its name; pages must be fresh."""
    relative = os.path.relpath(path, directory).replace(os.sep, "/")
    if relative.startswith("assets/"):
        return IMMUTABLE
    if relative.endswith(_REVALIDATED):
        return REVALIDATE
    return SHORT


def accepted(accept_encoding: str) -> set[str]:
    """The content codings a request's Accept-Encoding allows (q > 0), lower-cased."""
    codings: set[str] = set()
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name and quality > 0:
            codings.add(name.strip().lower())
    return codings


def _variant(path: str, accept_encoding: str) -> tuple[str, str] | None:
    codings = accepted(accept_encoding)
    for encoding, suffix in _ENCODINGS:
        if (encoding in codings or "*" in codings) and os.path.isfile(path + suffix):
            return encoding, path + suffix
    return None


def _has_variant(path: str) -> bool:
    return any(os.path.isfile(path + suffix) for _, suffix in _ENCODINGS)


def default_static_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "static"


def placeholder() -> HTMLResponse:
    return HTMLResponse(PLACEHOLDER)
