"""The sync log's promises that a reader of the database can check (docs/design/sync.md):
a message's write does not grow with its conversation's size, and text deleted or
edited away is not left on disk. On SQLite and PostgreSQL, counting rows directly."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from hubbub.bootstrap import Platform
from hubbub.domain.models import User
from hubbub.ports import Transaction
from tests.postgres import settings_on_postgres
from tests.unit.conftest import SETTINGS, make_world

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TABLES = (
    "users",
    "conversations",
    "members",
    "messages",
    "conversation_events",
    "conversation_receipts",
    "sync_snapshots",
)


@pytest.fixture(params=["sqlite", "postgres"])
async def deployment(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Platform, Callable[[], dict[str, int]]]]:
    """A platform on a real database, and a way to count each table's rows."""
    if request.param == "sqlite":
        settings = replace(SETTINGS, store="sqlite", data_dir=tmp_path)
        path = tmp_path / "hubbub.db"

        def count() -> dict[str, int]:
            with contextlib.closing(sqlite3.connect(path)) as db:
                return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}

    else:
        settings = settings_on_postgres(SETTINGS, request)
        url = settings.database_url

        def count() -> dict[str, int]:
            with psycopg.connect(url) as db:
                return {
                    t: db.execute(f"SELECT count(*) FROM {t}".encode()).fetchone()[0]  # type: ignore[index]
                    for t in TABLES
                }

    world = make_world(settings)
    yield world.platform, count
    await world.platform.close()


async def _users(platform: Platform, count: int) -> list[str]:
    names = [f"user{n}" for n in range(count)]

    def work(tx: Transaction) -> None:
        for name in names:
            tx.users.insert(User(name, name, f"{name}@x.io", name.title(), T0))

    await platform.store.write(work)
    return names


async def test_send_writes_the_same_rows_for_2_and_256_members(
    deployment: tuple[Platform, Callable[[], dict[str, int]]],
) -> None:
    """Before, a send wrote one row per member (a 256-member group: 256 + 6 rows, past
    what one DynamoDB transaction holds). Now the same handful whatever the size."""
    platform, count = deployment
    names = await _users(platform, 256)
    direct, _ = await platform.conversations.open_direct(names[0], names[1])
    group = await platform.conversations.create_group(names[0], "everyone", names[1:])

    async def rows_written_by_a_send(room: str, cmid: str) -> dict[str, int]:
        before = count()
        await platform.messages.send(names[0], room, cmid, "hello")
        after = count()
        return {t: after[t] - before[t] for t in TABLES if after[t] != before[t]}

    small = await rows_written_by_a_send(str(direct["id"]), "to-2")
    large = await rows_written_by_a_send(str(group["id"]), "to-256")
    assert small == large == {"messages": 1, "conversation_events": 1}


async def test_deleted_body_is_not_in_the_database_file(tmp_path: Path) -> None:
    """Deleting a message, or editing its text away, leaves that text nowhere on disk:
    the log refers to messages and never copies them, and SQLite overwrites what it
    frees (`secure_delete`)."""
    settings = replace(SETTINGS, store="sqlite", data_dir=tmp_path)
    platform = make_world(settings).platform
    try:
        ana, bob = await _users(platform, 2)
        room = str((await platform.conversations.open_direct(ana, bob))[0]["id"])
        regret = await platform.messages.send(ana, room, "c1", "REGRETTABLE-deleted-text")
        typo = await platform.messages.send(ana, room, "c2", "TYPO-edited-away-text")
        await platform.messages.send(ana, room, "c3", "KEPT-text")
        await platform.messages.delete(ana, room, str(regret.message["id"]))
        await platform.messages.edit(ana, room, str(typo.message["id"]), "fixed")
    finally:
        await platform.close()
    files = b"".join(f.read_bytes() for f in sorted(tmp_path.glob("hubbub.db*")))  # noqa: ASYNC240
    assert b"KEPT-text" in files  # the check can see text on disk
    assert b"REGRETTABLE" not in files
    assert b"TYPO-edited" not in files
