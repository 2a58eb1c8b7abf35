"""Bare servers doing no chat work: the baselines each benchmark is compared with.

    python -m bench.baselines ws-idle|ws-echo|ws-broadcast --port P
    python -m bench.baselines asgi-json --port P --body-file F

The WebSocket ones use the `websockets` library on uvloop without compression (as Hubbub
runs), answer `GET /ready` with 200, and send a small `hello` frame on connect like
Hubbub does. `asgi-json` is a raw ASGI callable (no framework) served by uvicorn with
Hubbub's own uvicorn settings, returning fixed JSON bytes of the size Hubbub's history
page has.
"""

from __future__ import annotations

import argparse
import contextlib
from http import HTTPStatus
from pathlib import Path
from typing import Any

# Idle HTTP connections are kept this long by both the bare server and Hubbub (through
# HUBBUB_KEEP_ALIVE_SECONDS in bench/common.py): the generator keeps its connections
# across the wait for a quiet machine between steps, which can outlast uvicorn's 5 s.
BENCH_KEEP_ALIVE_SECONDS = 300

HELLO = b'{"type":"hello","userId":"bare","connectionId":"bare","cursor":"0","online":[]}'


def _ready(connection: Any, request: Any) -> Any:
    if request.path == "/ready":
        return connection.respond(HTTPStatus.OK, "ok\n")
    return None


async def _ws_server(kind: str, port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    clients: set[Any] = set()

    async def idle(ws: Any) -> None:
        await ws.send(HELLO.decode())
        async for _ in ws:
            pass

    async def echo(ws: Any) -> None:
        await ws.send(HELLO.decode())
        async for message in ws:
            await ws.send(message)

    async def fanout(ws: Any) -> None:
        await ws.send(HELLO.decode())
        clients.add(ws)
        try:
            async for message in ws:
                broadcast([c for c in clients if c is not ws], message)
        finally:
            clients.discard(ws)

    handler = {"ws-idle": idle, "ws-echo": echo, "ws-broadcast": fanout}[kind]
    async with serve(
        handler,
        "127.0.0.1",
        port,
        compression=None,
        max_size=64 * 1024,
        process_request=_ready,
        backlog=2048,  # uvicorn's default, which Hubbub runs with
    ) as server:
        await server.serve_forever()


def _asgi_json(port: int, body: bytes) -> None:
    import uvicorn

    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=BENCH_KEEP_ALIVE_SECONDS,
    )
    uvicorn.Server(config).run()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["ws-idle", "ws-echo", "ws-broadcast", "asgi-json"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", type=Path)
    args = parser.parse_args()
    if args.kind == "asgi-json":
        _asgi_json(args.port, args.body_file.read_bytes() if args.body_file else b"{}")
        return
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_ws_server(args.kind, args.port))


if __name__ == "__main__":
    main()
