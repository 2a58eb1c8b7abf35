"""A light WebSocket client on picows: frames arrive through a callback, no per-frame
coroutine, so one generator core can drive far more traffic than the server uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect


class Client(WSListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.hello: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.on_text: Callable[[bytes], None] | None = None
        self.transport: WSTransport | None = None
        self.closed = False

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.TEXT:
            data = frame.get_payload_as_bytes()
            if not self.hello.done():
                self.hello.set_result(data)
            elif self.on_text is not None:
                self.on_text(data)
        elif kind == WSMsgType.CLOSE:
            if not self.hello.done():
                self.hello.set_exception(
                    ConnectionError(f"closed before hello: {frame.get_close_code()}")
                )
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True
        if not self.hello.done():
            self.hello.set_exception(ConnectionError("disconnected before hello"))

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, data)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.send_close()
            self.transport.disconnect()


async def connect(url: str, src: str | None = None, timeout: float = 30.0) -> Client:  # noqa: ASYNC109
    """Opens a connection and waits for the server's first frame (`hello`)."""
    kwargs: dict[str, Any] = {}
    if src is not None:
        kwargs["local_addr"] = (src, 0)
    _, client = await ws_connect(
        Client,
        url,
        websocket_handshake_timeout=timeout,
        read_buffer_init_size=2048,
        **kwargs,
    )
    await asyncio.wait_for(client.hello, timeout)
    return client  # type: ignore[no-any-return]
