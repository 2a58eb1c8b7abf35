"""A data directory written by the first release (77635e6, schema version 1) keeps
working: it is upgraded in place, at start-up or by `hubbub migrate`, and every user,
conversation, message, read marker, password and session in it is still there.

`tests/fixtures/v1.sql` is that release's database, written by its own code
(`tests/fixtures/make_v1_db.py`), and `v1_expected.json` is what that release answered
about it; the tests ask today's code the same questions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hubbub.adapters.sqlite import SqliteStore
from hubbub.adapters.sqlite_schema import MIGRATIONS, status, upgrade
from hubbub.bootstrap import Platform, build
from hubbub.config import Settings
from hubbub.domain.errors import CursorExpired, Unauthorized
from hubbub.schema import Migration, MigrationFailed, SchemaError, SchemaTooNew
from tests.support import FAST_TEST_ENV, Api, ServerProcess, free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "v1_expected.json").read_text())
USERS: dict[str, Any] = EXPECTED["users"]


def _no_attachments(users: dict[str, Any]) -> None:
    """Messages of the release had no attachments (migration 6 gives each an empty list);
    the expectations recorded from the release predate the field."""
    for seen in users.values():
        for view in seen["conversations"]:
            if view["lastMessage"] is not None:
                view["lastMessage"].setdefault("attachments", [])
        for messages in seen["messages"].values():
            for item in messages:
                item.setdefault("attachments", [])


_no_attachments(USERS)
LATEST = [(m.version, m.name) for m in MIGRATIONS]
# What the code just before versioning (11a8a47) did to a database at every start-up.
PRE_VERSIONING_SESSIONS = [
    """CREATE TABLE IF NOT EXISTS ended_sessions (
    session_id TEXT PRIMARY KEY,
    until TEXT NOT NULL
) WITHOUT ROWID""",
    "ALTER TABLE refresh_tokens ADD COLUMN used_at TEXT",
]


def load_v1(data_dir: Path) -> Path:
    """The release's database, rebuilt from its dump where `Settings` expects it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / "hubbub.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript((FIXTURES / "v1.sql").read_text())
    key = data_dir / "token-secret.key"
    key.touch(mode=0o600)
    key.write_text(EXPECTED["tokenSecret"])
    return path


def schema_of(path: Path) -> list[tuple[str, str, str]]:
    """Every table and index with its SQL, whitespace folded."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        return sorted((kind, name, " ".join(sql.split())) for kind, name, sql in rows)


def versions_of(path: Path) -> list[tuple[int, str]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return list(db.execute("SELECT version, name FROM schema_migrations ORDER BY version"))


def tables_of(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master")}


class FixedClock:
    """Just after the fixture was written, so its refresh tokens have not expired."""

    def __init__(self) -> None:
        stamps = [
            datetime.fromisoformat(str(view["updatedAt"]).replace("Z", "+00:00"))
            for user in USERS.values()
            for view in user["conversations"]
        ]
        self.moment = max(stamps) + timedelta(minutes=1)

    def now(self) -> datetime:
        return self.moment


def platform_on(data_dir: Path) -> Platform:
    settings = Settings(data_dir=data_dir, password_hash_memory_kib=1024)
    return build(settings, clock=FixedClock())


def hubbub(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **FAST_TEST_ENV, "HUBBUB_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "hubbub", *args], env=env, capture_output=True, text=True
    )


async def test_a_v1_database_keeps_every_user_conversation_message_and_read_marker(
    tmp_path: Path,
) -> None:
    load_v1(tmp_path / "data")
    platform = platform_on(tmp_path / "data")
    try:
        for username, seen in USERS.items():
            profile = await platform.users.get(seen["id"])
            # Display names are NFC now, like every name typed since (migration 3).
            assert (profile.username, profile.email, profile.display_name) == (
                username,
                seen["email"],
                unicodedata.normalize("NFC", seen["displayName"]),
            )
            views, more = await platform.conversations.recent(seen["id"], 100, None)
            assert more is None
            # Their logs start empty (migration 4): position 0, nothing else changed.
            assert [v.pop("lastEventSeq") for v in views] == [0] * len(views)
            # Nobody has been seen going offline yet (migration 5): no last seen.
            seen_at = [m.pop("lastSeenAt") for v in views for m in v["members"]]  # type: ignore[attr-defined]
            assert seen_at == [None] * len(seen_at)
            # Nobody had a profile picture (migration 11).
            pictures = [m.pop("avatarUrl") for v in views for m in v["members"]]  # type: ignore[attr-defined]
            assert pictures == [None] * len(pictures)
            # Nobody had muted anything before mutes existed (migration 8).
            mutes = [(v.pop("muted"), v.pop("mutedUntil")) for v in views]
            assert mutes == [(False, None)] * len(views)
            # Nobody has blocked anybody (migration 9): every chat takes messages.
            blocks = [(v.pop("blocked"), v.pop("canSend")) for v in views]
            assert blocks == [(False, True)] * len(views)
            # Their messages are no replies and have no reactions (migration 10).
            for last in (v["lastMessage"] for v in views if v["lastMessage"]):
                assert isinstance(last, dict)
                assert (last.pop("replyTo"), last.pop("reactions")) == (None, [])
            assert views == seen["conversations"], username
            # Read markers, the caller's and everyone's, as the release had them.
            assert [(v["id"], v["readSeq"], v["memberReadSeqs"]) for v in views] == [
                (v["id"], v["readSeq"], v["memberReadSeqs"]) for v in seen["conversations"]
            ]
            for conversation_id, messages in seen["messages"].items():
                page, more_messages = await platform.messages.history(
                    seen["id"], conversation_id, None, 0, 200
                )
                assert not more_messages
                assert [(m.pop("replyTo"), m.pop("reactions")) for m in page] == [(None, [])] * len(
                    page
                )
                assert page == messages, (username, conversation_id)
                assert [m["seq"] for m in page] == list(range(1, len(page) + 1))
            await assert_sync_from_nothing_brings_back(platform, seen)
            # The old log's cursors are gone with it: the client reloads.
            with pytest.raises(CursorExpired):
                await platform.sync.sync(seen["id"], "5", 10)
        # The logs start at 0, so the next change is each conversation's entry 1.
        direct = next(v for v in USERS["ada"]["conversations"] if v["kind"] == "direct")
        change = await platform.messages.send(USERS["ada"]["id"], direct["id"], "new", "hi")
        assert change.event_seq == 1
    finally:
        await platform.close()
    assert versions_of(tmp_path / "data" / "hubbub.db") == LATEST


async def assert_sync_from_nothing_brings_back(platform: Platform, seen: dict[str, Any]) -> None:
    """`since=0` is each conversation, whole, as REST shows it: nothing else (the old
    log's entries, with their copies of deleted text, are not replayed)."""
    frames, _, more = await platform.sync.sync(seen["id"], "0", 500)
    assert not more
    assert {f["type"] for f in frames} <= {"conversation.created"}
    shown = sorted((f["conversation"]["id"], f["conversation"]["title"]) for f in frames)
    assert shown == sorted((v["id"], v["title"]) for v in seen["conversations"])
    for frame in frames:
        listed = next(v for v in seen["conversations"] if v["id"] == frame["conversationId"])
        assert frame["conversation"]["memberReadSeqs"] == listed["memberReadSeqs"]
        last = frame["conversation"]["lastMessage"]
        if last is not None:  # no reply, no reactions (migration 5)
            assert (last.pop("replyTo"), last.pop("reactions")) == (None, [])
        assert last == listed["lastMessage"]


async def test_the_upgrade_removes_the_old_logs_copies_of_deleted_text(tmp_path: Path) -> None:
    """The release's global log kept a copy of every body sent, so text deleted through
    the app stayed in the file; the upgrade drops that log and overwrites its pages."""
    path = load_v1(tmp_path / "data")
    deleted = b"oops, wrong chat"
    assert deleted in path.read_bytes()  # in the release's log, though deleted in the app
    platform = platform_on(tmp_path / "data")
    await platform.close()
    for file in path.parent.glob("hubbub.db*"):
        assert deleted not in file.read_bytes(), file.name


async def test_a_v1_display_name_typed_decomposed_is_found_by_search(tmp_path: Path) -> None:
    """The release stored names as typed; search now folds the query to NFC, so a name
    stored decomposed (e + U+0301) would never match however it was typed."""
    decomposed = USERS["eve"]["displayName"]
    assert unicodedata.normalize("NFC", decomposed) != decomposed  # the fixture's point
    load_v1(tmp_path / "data")
    platform = platform_on(tmp_path / "data")
    try:
        for typed in (decomposed, unicodedata.normalize("NFC", decomposed)):
            found = await platform.users.search(USERS["ada"]["id"], typed.lower(), 10)
            assert [u.username for u in found] == ["eve"], typed
    finally:
        await platform.close()


async def test_v1_accounts_still_sign_in_and_their_sessions_go_on(tmp_path: Path) -> None:
    load_v1(tmp_path / "data")
    platform = platform_on(tmp_path / "data")
    tokens = EXPECTED["refreshTokens"]
    try:
        for username, seen in USERS.items():
            _, user = await platform.auth.sign_in(username, EXPECTED["password"], "10.0.0.1")
            assert user.id == seen["id"]
            with pytest.raises(Unauthorized):
                await platform.auth.sign_in(username, "not the password", "10.0.0.1")
        # The release's access tokens name no session (sid): refused, so the client
        # refreshes, and the session the release started goes on.
        with pytest.raises(Unauthorized):
            await platform.auth.authenticate(EXPECTED["accessToken"])
        renewed = await platform.auth.refresh(tokens["live"])
        assert (await platform.auth.authenticate(renewed.access_token)).user_id == USERS["ada"][
            "id"
        ]
        # One it ended stays ended.
        assert (await platform.auth.refresh(tokens["successor"])).refresh_token
        with pytest.raises(Unauthorized):
            await platform.auth.refresh(tokens["signedOut"])
        # A token the release rotated long ago is a reuse: it ends its session.
        with pytest.raises(Unauthorized):
            await platform.auth.refresh(tokens["rotatedAway"])
    finally:
        await platform.close()


async def test_serve_upgrades_a_v1_data_directory_at_start_up(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    load_v1(data_dir)
    server = ServerProcess(data_dir=data_dir)
    server.start()
    api = Api(server.base_url)
    try:
        for username, seen in USERS.items():
            account = await api.sign_in(username, EXPECTED["password"])
            events, _ = await api.sync_all(account, "0")
            assert sorted(e["conversationId"] for e in events) == sorted(
                v["id"] for v in seen["conversations"]
            ), username
            for conversation_id, messages in seen["messages"].items():
                history = await api.history_all(account, conversation_id)
                assert history is not None
                # No replies and no reactions before migration 5.
                assert [(m.pop("replyTo"), m.pop("reactions")) for m in history] == [
                    (None, [])
                ] * len(history)
                assert history == messages
    finally:
        await api.close()
        server.stop()
    assert versions_of(data_dir / "hubbub.db") == LATEST


def test_fresh_and_upgraded_databases_end_with_the_same_schema(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh" / "hubbub.db"
    assert upgrade(fresh) == (0, len(MIGRATIONS))
    from_v1 = load_v1(tmp_path / "v1")
    assert upgrade(from_v1) == (1, len(MIGRATIONS))
    # A database the code between the release and versioning started on.
    unversioned = load_v1(tmp_path / "unversioned")
    with contextlib.closing(sqlite3.connect(unversioned)) as db:
        for statement in PRE_VERSIONING_SESSIONS:
            db.execute(statement)
    assert upgrade(unversioned) == (2, len(MIGRATIONS))
    assert schema_of(from_v1) == schema_of(fresh)
    assert schema_of(unversioned) == schema_of(fresh)
    assert versions_of(fresh) == versions_of(from_v1) == versions_of(unversioned) == LATEST
    assert "refresh_tokens" in tables_of(fresh) and "ended_sessions" in tables_of(fresh)


def test_a_failing_migration_leaves_the_version_before_it(tmp_path: Path) -> None:
    path = load_v1(tmp_path / "data")
    broken = Migration(
        len(MIGRATIONS) + 1,
        "broken",
        ("CREATE TABLE half_done (x TEXT)", "INSERT INTO nowhere VALUES (1)"),
    )
    with pytest.raises(MigrationFailed, match="broken"):
        upgrade(path, (*MIGRATIONS, broken))
    assert versions_of(path) == LATEST
    assert "half_done" not in tables_of(path)
    assert upgrade(path) == (len(MIGRATIONS), len(MIGRATIONS))


async def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "hubbub.db"
    upgrade(path)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO schema_migrations VALUES (?, 'from the future', '2030-01-01')",
            (len(MIGRATIONS) + 1,),
        )
    before = path.read_bytes()
    too_new = f"schema version {len(MIGRATIONS) + 1}"
    with pytest.raises(SchemaTooNew, match=too_new):
        SqliteStore(path)
    with pytest.raises(SchemaTooNew, match=too_new):
        status(path)
    for command in (["migrate"], ["migrate", "--check"], ["serve", "--port", str(free_port())]):
        done = hubbub(*command, data_dir=path.parent)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert too_new in done.stderr and "Traceback" not in done.stderr
    assert path.read_bytes() == before


def test_a_database_another_build_migrated_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "hubbub.db"
    upgrade(path)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE schema_migrations SET name = 'elsewhere' WHERE version = 2")
    with pytest.raises(SchemaTooNew, match="elsewhere"):
        upgrade(path)


def test_a_database_that_is_not_hubbubs_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "data" / "hubbub.db"
    path.parent.mkdir()
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(SchemaError, match="invoices"):
        upgrade(path)
    assert tables_of(path) == {"invoices"}
    done = hubbub("migrate", data_dir=path.parent)
    assert done.returncode == 2 and "not a Hubbub database" in done.stderr


def test_hubbub_migrate_checks_then_upgrades_a_v1_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    path = load_v1(data_dir)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    latest = len(MIGRATIONS)

    check = hubbub("migrate", "--check", data_dir=data_dir)
    assert check.returncode == 1, check.stderr
    assert f"Schema version 1, upgrade to {latest} pending" in check.stdout
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # --check changed nothing

    done = hubbub("migrate", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert f"Schema version 1 -> {latest}" in done.stdout
    assert versions_of(path) == LATEST

    again = hubbub("migrate", "--check", data_dir=data_dir)
    assert again.returncode == 0, again.stderr
    assert f"Schema version {latest} is current" in again.stdout
    assert f"{latest} -> {latest}" in hubbub("migrate", data_dir=data_dir).stdout


def test_hubbub_migrate_check_does_not_create_a_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "nothing-yet"
    check = hubbub("migrate", "--check", data_dir=data_dir)
    assert check.returncode == 1
    assert f"Schema version 0, upgrade to {len(MIGRATIONS)} pending" in check.stdout
    assert not data_dir.exists()


def test_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    path = load_v1(tmp_path / "data")
    start = threading.Barrier(4)
    results: list[tuple[int, int]] = []
    failures: list[BaseException] = []

    def one() -> None:
        start.wait()
        try:
            results.append(upgrade(path))
        except BaseException as failure:  # reported below
            failures.append(failure)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    latest = len(MIGRATIONS)
    # One of them upgraded; the others waited for it and found nothing left to do.
    assert sorted(results) == [(1, latest)] + [(latest, latest)] * 3
    assert versions_of(path) == LATEST


def test_migrations_are_numbered_in_order_and_stamped_with_their_time(tmp_path: Path) -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    path = tmp_path / "data" / "hubbub.db"
    before = datetime.now(UTC)
    upgrade(path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        stamps = [
            datetime.fromisoformat(row[0])
            for row in db.execute("SELECT applied_at FROM schema_migrations")
        ]
    assert all(stamp >= before for stamp in stamps)


def test_hubbub_migrate_on_the_memory_store_has_nothing_to_do(tmp_path: Path) -> None:
    for command in (["migrate", "--store", "memory"], ["migrate", "--store", "memory", "--check"]):
        done = hubbub(*command, data_dir=tmp_path / "data")
        assert done.returncode == 0, done.stderr
        assert "nothing to migrate" in done.stdout
    assert not (tmp_path / "data").exists()


async def test_v1_users_are_found_by_each_word_of_their_name_after_the_upgrade(
    tmp_path: Path,
) -> None:
    """Migration 12 splits the names already stored into their search words: every v1
    user is found by the first word of their display name, one word at a time."""
    load_v1(tmp_path / "data")
    platform = platform_on(tmp_path / "data")
    try:
        for handle, user in USERS.items():
            first = user["displayName"].split()[0].lower()
            found = await platform.users.search("nobody", first, 10)
            assert user["id"] in [u.id for u in found], (handle, first)
    finally:
        await platform.close()
