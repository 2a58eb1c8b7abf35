"""Security headers on every HTTP response: the API's, the web app's and the errors'.

The web app is built with no inline script or style element, so its Content Security
Policy allows scripts, styles and connections from this origin only. The API docs
page (Swagger UI, rendered by FastAPI) starts itself with one inline script: its
policy allows exactly that script by hash, computed from the page as it is sent.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def app_policy(file_origins: tuple[str, ...] = ()) -> str:
    """The web app's policy; `file_origins` are where else images may come from and
    uploads may go (the S3-compatible bucket behind presigned URLs)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            " ".join(["img-src 'self' data: blob:", *file_origins]),
            "font-src 'self'",
            # 'self' covers ws:// and wss:// to this host (CSP Level 3).
            " ".join(["connect-src 'self'", *file_origins]),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


APP_POLICY = app_policy()
DOCS_PATH = "/api/docs"
# Swagger UI from a CDN is the fallback when the web build (which ships it) is absent.
_DOCS_CDN = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)

HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"permissions-policy",
        b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")


def docs_policy(page: bytes) -> str:
    """The policy for the API docs page: its own inline scripts by hash, nothing else."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(page)
    )
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {_DOCS_CDN} {hashes}".strip(),
            f"style-src 'self' 'unsafe-inline' {_DOCS_CDN}",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    """ASGI middleware: adds the headers a response does not set itself."""

    def __init__(self, app: ASGIApp, file_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self._policy = app_policy(file_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        if scope.get("path") == DOCS_PATH:
            await self.app(scope, receive, _Buffered(send, https))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add(message, self._policy, https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Buffered:
    """Holds the (small) docs page until it is complete, to hash its inline scripts."""

    def __init__(self, send: Send, https: bool) -> None:
        self._send = send
        self._https = https
        self._start: Message | None = None
        self._body: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._body.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        page = b"".join(self._body)
        _add(self._start, docs_policy(page), self._https)
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": page})


def _add(start: Message, policy: str, https: bool) -> None:
    headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
    present = {name.lower() for name, _ in headers}
    wanted = [*HEADERS, (b"content-security-policy", policy.encode())]
    if https:
        wanted.append(HSTS)
    headers.extend((name, value) for name, value in wanted if name not in present)
    start["headers"] = headers
