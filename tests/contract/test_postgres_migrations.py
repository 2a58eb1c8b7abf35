"""PostgreSQL's schema migrations and its configuration, as an operator meets them:
`hubbub migrate` creates and upgrades the schema, `--check` says whether one is due,
`hubbub serve` refuses a database that is not current (many processes share it), and
a database a newer Hubbub wrote, or not Hubbub's at all, is refused and left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import psycopg
import pytest

from hubbub.adapters import postgres_schema
from hubbub.adapters.postgres import PostgresStore
from hubbub.adapters.postgres_schema import MIGRATIONS
from hubbub.bootstrap import build
from hubbub.config import ConfigError, Settings
from hubbub.domain.errors import CursorExpired
from hubbub.schema import Migration, MigrationFailed, SchemaError, SchemaTooNew
from tests.postgres import TEST_TOKEN_SECRET, PostgresServer
from tests.support import FAST_TEST_ENV, free_port

LATEST = len(MIGRATIONS)


def hubbub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **FAST_TEST_ENV, "HUBBUB_TOKEN_SECRET": TEST_TOKEN_SECRET}
    environment.pop("HUBBUB_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "hubbub", *args],
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def tables_of(url: str) -> set[str]:
    with psycopg.connect(url) as db:
        rows = db.execute(
            b"SELECT table_name FROM information_schema.tables"
            b" WHERE table_schema = current_schema()"
        ).fetchall()
    return {str(row[0]) for row in rows}


def test_migrate_creates_the_schema_once(postgres: PostgresServer) -> None:
    url = postgres.fresh_database_url(migrated=False)
    assert postgres_schema.status(url).current == 0 and postgres_schema.status(url).pending
    assert postgres_schema.migrate(url) == (0, LATEST)
    assert postgres_schema.migrate(url) == (LATEST, LATEST)
    now = postgres_schema.status(url)
    assert (now.current, now.pending) == (LATEST, False)
    tables = tables_of(url)
    assert {"users", "messages", "conversation_events", "schema_migrations"} <= tables
    assert not {"events", "user_events"} & tables  # the old global log is gone


def test_processes_migrating_together_migrate_once(postgres: PostgresServer) -> None:
    url = postgres.fresh_database_url(migrated=False)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(postgres_schema.migrate(url))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    # Each migration ran once: one process found the database empty, and every one
    # left it at the latest version (a later one may have found some steps done).
    assert sorted(results)[0] == (0, LATEST)
    assert [after for _, after in results] == [LATEST] * 4


def test_a_failing_migration_leaves_the_version_before_it(postgres: PostgresServer) -> None:
    url = postgres.fresh_database_url()
    broken = Migration(
        LATEST + 1, "broken", ("CREATE TABLE half_done (x TEXT)", "INSERT INTO nowhere VALUES (1)")
    )
    with pytest.raises(MigrationFailed, match="broken"):
        postgres_schema.migrate(url, (*MIGRATIONS, broken))
    assert postgres_schema.status(url).current == LATEST
    assert "half_done" not in tables_of(url)


def test_hubbub_migrate_checks_then_creates_the_schema(postgres: PostgresServer) -> None:
    url = postgres.fresh_database_url(migrated=False)
    password_url = url.replace("hubbub@", "hubbub:not-a-real-password@")
    check = hubbub("migrate", "--check", "--database-url", password_url)
    assert check.returncode == 1, check.stderr
    assert f"Schema version 0, upgrade to {LATEST} pending" in check.stdout
    done = hubbub("migrate", "--database-url", password_url)
    assert done.returncode == 0, done.stderr
    assert f"Schema version 0 -> {LATEST}" in done.stdout
    assert "not-a-real-password" not in done.stdout + done.stderr
    again = hubbub("migrate", "--check", env={"HUBBUB_DATABASE_URL": url})
    assert again.returncode == 0 and f"Schema version {LATEST} is current" in again.stdout


def test_serve_refuses_a_database_not_migrated_yet(postgres: PostgresServer) -> None:
    url = postgres.fresh_database_url(migrated=False)
    done = hubbub("serve", "--port", str(free_port()), "--database-url", url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "hubbub migrate" in done.stderr and "Traceback" not in done.stderr
    assert tables_of(url) == set()  # it changed nothing
    with pytest.raises(SchemaError, match="hubbub migrate"):
        PostgresStore(url)


def test_a_database_newer_than_the_code_is_refused(postgres: PostgresServer) -> None:
    url = postgres.fresh_database_url()
    with psycopg.connect(url) as db:
        db.execute(
            b"INSERT INTO schema_migrations VALUES (%s, 'from the future', now())", (LATEST + 1,)
        )
    too_new = f"schema version {LATEST + 1}"
    with pytest.raises(SchemaTooNew, match=too_new):
        postgres_schema.migrate(url)
    with pytest.raises(SchemaTooNew, match=too_new):
        PostgresStore(url)
    for command in (["migrate"], ["migrate", "--check"], ["serve", "--port", str(free_port())]):
        done = hubbub(*command, "--database-url", url)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert too_new in done.stderr and "Traceback" not in done.stderr


def test_a_database_that_is_not_hubbubs_is_left_alone(postgres: PostgresServer) -> None:
    url = postgres.fresh_database_url(migrated=False)
    with psycopg.connect(url) as db:
        db.execute(b"CREATE TABLE invoices (id INT)")
    with pytest.raises(SchemaError, match="not a Hubbub database"):
        postgres_schema.migrate(url)
    assert tables_of(url) == {"invoices"}


def test_an_unreachable_database_is_a_clear_error(postgres: PostgresServer) -> None:
    url = f"postgresql://hubbub@127.0.0.1:{free_port()}/nowhere"
    done = hubbub("migrate", "--database-url", url)
    assert done.returncode == 2 and "cannot reach the database" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("environment", "complaint"),
    [
        ({"HUBBUB_DATABASE_URL": "postgresql://db/hubbub"}, "HUBBUB_TOKEN_SECRET is required"),
        (
            {"HUBBUB_DATABASE_URL": "mysql://db/hubbub", "HUBBUB_TOKEN_SECRET": "x" * 32},
            "must start with postgresql://",
        ),
        (
            {"HUBBUB_DATABASE_URL": "postgresql://db", "HUBBUB_TOKEN_SECRET": "x" * 32},
            "must name a database",
        ),
        (
            {
                "HUBBUB_DATABASE_URL": "postgresql://db/hubbub",
                "HUBBUB_TOKEN_SECRET": "x" * 32,
                "HUBBUB_STORE": "memory",
            },
            "exclude each other",
        ),
    ],
)
def test_a_database_url_is_validated_at_start_up(
    environment: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        Settings.from_env(environment)


def test_serve_without_a_token_secret_refuses_to_start() -> None:
    done = hubbub(
        "serve",
        "--database-url",
        "postgresql://db/hubbub",
        env={"HUBBUB_TOKEN_SECRET": ""},
    )
    assert done.returncode == 2
    assert "configuration error: HUBBUB_TOKEN_SECRET is required" in done.stderr


def test_the_pool_size_is_bounded() -> None:
    with pytest.raises(ConfigError, match="HUBBUB_DATABASE_CONNECTIONS must be 1-200"):
        Settings.from_env({"HUBBUB_DATABASE_CONNECTIONS": "0"})
    assert Settings.from_env({"HUBBUB_DATABASE_CONNECTIONS": "3"}).database_connections == 3


def test_a_database_url_selects_postgres() -> None:
    chosen = Settings.from_env(
        {"HUBBUB_DATABASE_URL": "postgresql://u@db:5432/hubbub", "HUBBUB_TOKEN_SECRET": "x" * 32}
    )
    assert chosen.backend == "postgres"
    assert Settings.from_env({}).backend == "sqlite"


async def test_a_version_1_database_keeps_its_chat_and_loses_its_copies_of_text(
    postgres: PostgresServer,
) -> None:
    """A database the first PostgreSQL release wrote (schema 1: one global event log
    holding copies of bodies) upgrades to the sync log: the conversation, its messages
    and read markers stay; the copies go; the old cursors expire; the log starts at 0."""
    url = postgres.fresh_database_url(migrated=False)
    postgres_schema.migrate(url, MIGRATIONS[:1])
    at = "2026-11-27T10:00:00+00:00"
    with psycopg.connect(url) as db:
        for n, name in enumerate(("ana", "bob")):
            db.execute(
                b"INSERT INTO users VALUES (%s, %s, %s, %s, %s, %s, true)",
                (f"u{n}", name, f"{name}@x.io", name.title(), name, at),
            )
        db.execute(
            b"INSERT INTO conversations VALUES ('c1', 'direct', '', 'u0', %s, %s, 2, 'u0:u1')",
            (at, at),
        )
        for user, read in (("u0", 2), ("u1", 1)):
            db.execute(b"INSERT INTO members VALUES ('c1', %s, 'member', %s, %s)", (user, at, read))
        for seq, body, deleted in ((1, "kept", False), (2, "", True)):
            db.execute(
                b"INSERT INTO messages VALUES ('c1', %s, %s, 'u0', %s, %s, %s, NULL, %s)",
                (seq, f"m{seq}", f"cm{seq}", body, at, deleted),
            )
        db.execute(
            b"INSERT INTO events (type, payload) VALUES ('message.created', %s)",
            (b'{"message": {"body": "a deleted secret"}}',),
        )
    assert postgres_schema.migrate(url) == (1, LATEST)
    with psycopg.connect(url) as db:
        tables = {
            row[0]
            for row in db.execute(
                b"SELECT table_name FROM information_schema.tables"
                b" WHERE table_schema = current_schema()"
            )
        }
    assert not {"events", "user_events"} & tables
    settings = Settings(database_url=url, token_secret=TEST_TOKEN_SECRET)
    platform = build(settings)
    try:
        (view,), _ = await platform.conversations.recent("u1", 10, None)
        assert (view["lastSeq"], view["lastEventSeq"], view["readSeq"]) == (2, 0, 1)
        history, _ = await platform.messages.history("u1", "c1", None, None, None)
        assert [(m["body"], m["deleted"]) for m in history] == [("kept", False), ("", True)]
        frames, _, more = await platform.sync.sync("u1", "0", 100)
        assert [(f["type"], f["conversationId"]) for f in frames] == [
            ("conversation.created", "c1")
        ]
        assert "a deleted secret" not in str(frames) and not more
        with pytest.raises(CursorExpired):
            await platform.sync.sync("u1", "1", 100)
        change = await platform.messages.send("u0", "c1", "after", "hello again")
        assert (change.message["seq"], change.event_seq) == (3, 1)
    finally:
        await platform.close()


async def test_names_written_before_the_name_words_are_found_by_each_word_after(
    postgres: PostgresServer,
) -> None:
    """Migration 10 splits the display names already stored into their search words as
    `hubbub.domain.search.words` does (NFC, lower case, letters and digits of any
    script), so a one-word search finds those users by any word of their name."""
    url = postgres.fresh_database_url(migrated=False)
    postgres_schema.migrate(url, MIGRATIONS[:9])
    at = "2026-11-27T10:00:00+00:00"
    names = {"zoe": "Zoe\u0308 O'Brien-Smith", "ivan": "ИВАН Петров", "ann": "Ann_Marie 2nd"}
    with psycopg.connect(url) as db:
        for n, (username, name) in enumerate(names.items()):
            db.execute(
                b"INSERT INTO users (id, username, email, display_name, display_name_lower,"
                b" created_at, confirmed) VALUES (%s, %s, %s, %s, %s, %s, true)",
                (f"u{n}", username, f"{username}@x.io", name, name.lower(), at),
            )
    assert postgres_schema.migrate(url) == (9, LATEST)
    platform = build(Settings(database_url=url, token_secret=TEST_TOKEN_SECRET))
    try:
        for typed, want in [
            ("zoë", ["zoe"]),
            ("brien", ["zoe"]),
            ("smi", ["zoe"]),
            ("иван", ["ivan"]),
            ("пет", ["ivan"]),
            ("marie", ["ann"]),
            ("2nd", ["ann"]),
            ("rien", []),
        ]:
            found = await platform.users.search("nobody", typed, 10)
            assert [u.username for u in found] == want, typed
    finally:
        await platform.close()
