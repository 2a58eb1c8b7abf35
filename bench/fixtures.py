"""Pre-creating users, conversations and tickets through Hubbub's public REST API.

Runs with the rate limits raised and argon2 memory lowered by environment variables
(see `common.HUBBUB_BENCH_ENV`), over a handful of keep-alive connections.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.http import HttpConn

T = TypeVar("T")


@dataclass(frozen=True)
class BenchUser:
    id: str
    username: str
    token: str


async def _pooled(
    port: int, items: Sequence[T], job: Callable[[HttpConn, T], Awaitable[Any]], width: int = 8
) -> list[Any]:
    conns = [await HttpConn("127.0.0.1", port).connect() for _ in range(min(width, len(items)))]
    results: list[Any] = [None] * len(items)
    queue = list(enumerate(items))
    queue.reverse()

    async def lane(conn: HttpConn) -> None:
        while queue:
            n, item = queue.pop()
            results[n] = await job(conn, item)

    try:
        await asyncio.gather(*(lane(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    return results


async def create_users(port: int, count: int, prefix: str = "u") -> list[BenchUser]:
    run = secrets.token_hex(3)
    password = "bench-password-1"

    async def one(conn: HttpConn, n: int) -> BenchUser:
        name = f"{prefix}{run}{n}"
        signup = {
            "username": name,
            "email": f"{name}@bench.example",
            "password": password,
            "displayName": f"Bench {n}",
        }
        created = await conn.json("POST", "/api/auth/signup", signup)
        signed = await conn.json(
            "POST", "/api/auth/signin", {"username": name, "password": password}
        )
        return BenchUser(created["user"]["id"], name, signed["accessToken"])

    return await _pooled(port, list(range(count)), one)


async def direct_pairs(
    port: int, users: Sequence[BenchUser]
) -> list[tuple[str, BenchUser, BenchUser]]:
    """Pairs users (0,1), (2,3), ... into direct conversations: (conversation id, a, b)."""
    pairs = [(users[i], users[i + 1]) for i in range(0, len(users) - 1, 2)]

    async def one(
        conn: HttpConn, pair: tuple[BenchUser, BenchUser]
    ) -> tuple[str, BenchUser, BenchUser]:
        a, b = pair
        made = await conn.json("POST", "/api/conversations/direct", {"userId": b.id}, a.token)
        return made["conversation"]["id"], a, b

    return await _pooled(port, pairs, one)


async def group(port: int, owner: BenchUser, members: Sequence[BenchUser], title: str) -> str:
    conn = await HttpConn("127.0.0.1", port).connect()
    try:
        body = {"title": title, "memberIds": [m.id for m in members]}
        made = await conn.json("POST", "/api/conversations", body, owner.token)
        return str(made["conversation"]["id"])
    finally:
        conn.close()


async def post_messages(
    port: int, user: BenchUser, conversation_id: str, count: int, size: int
) -> None:
    filler = ("lorem ipsum dolor sit amet " * (size // 27 + 1))[:size]

    async def one(conn: HttpConn, n: int) -> None:
        body = {"clientMessageId": f"seed-{n}", "body": f"{n} {filler}"[:size]}
        await conn.json("POST", f"/api/conversations/{conversation_id}/messages", body, user.token)

    await _pooled(port, list(range(count)), one, width=1)


async def ticket(conn: HttpConn, token: str) -> str:
    made = await conn.json("POST", "/api/auth/ws-ticket", None, token)
    return str(made["ticket"])


async def tickets(port: int, tokens: Sequence[str], width: int = 8) -> list[str]:
    return await _pooled(port, list(tokens), ticket, width=width)
