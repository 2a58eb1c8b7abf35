"""A minimal HTTP/1.1 keep-alive client on an asyncio Protocol.

Light enough that the load generator, not the client library, sets the pace: requests
are pre-encoded bytes, responses are parsed just far enough to find the status and
Content-Length (uvicorn always sends it for these endpoints).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import orjson


class HttpError(RuntimeError):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class _Proto(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiters: deque[asyncio.Future[tuple[int, bytes]]] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.waiters:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            status = int(head[9:12])
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result((status, body))


class HttpConn:
    """One keep-alive connection; requests on it are pipelined in order."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._proto: _Proto | None = None

    async def connect(self, local_addr: tuple[str, int] | None = None) -> HttpConn:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(_Proto, self.host, self.port, local_addr=local_addr)
        self._proto = proto
        return self

    @property
    def closed(self) -> bool:
        return self._proto is None or self._proto.closed

    @property
    def in_flight(self) -> int:
        return len(self._proto.waiters) if self._proto else 0

    def raw(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self._proto is not None and self._proto.transport is not None
        if self._proto.closed:
            raise ConnectionError("connection closed")
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._proto.waiters.append(fut)
        self._proto.transport.write(request)
        return fut

    def build(self, method: str, path: str, body: Any = None, token: str | None = None) -> bytes:
        payload = b"" if body is None else orjson.dumps(body)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        if body is not None:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(payload)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload

    async def json(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        status, data = await self.raw(self.build(method, path, body, token))
        if status >= 400:
            raise HttpError(status, data)
        return orjson.loads(data) if data else None

    def close(self) -> None:
        if self._proto and self._proto.transport:
            self._proto.transport.close()
