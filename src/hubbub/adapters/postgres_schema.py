"""The PostgreSQL schema as ordered migrations, and the runner that applies them.

The same bookkeeping as SQLite's (`hubbub.schema`): a `schema_migrations` table, one
row per applied migration written in the migration's own transaction. PostgreSQL has
its own numbering: its version 1 is the whole schema SQLite reaches at its version 3
(tables, the `used_at` column, ended sessions), in PostgreSQL's dialect. There is no
PostgreSQL database from before versioning, so nothing is adopted: a database with
tables but no `schema_migrations` is not Hubbub's and is refused.

Each migration runs in one transaction (PostgreSQL's DDL is transactional) that first
takes a transaction-scoped advisory lock, so processes migrating at once take turns
and the second finds the work done. `hubbub serve` never migrates PostgreSQL: it
refuses to start while a migration is pending (`require_current`), because many
processes share the database and a schema change is the operator's step
(`hubbub migrate`), not a side effect of whichever process starts first.

Text columns that are ordered or compared by range use the "C" collation, so order is
code point order whatever the database's locale, as in SQLite and memory.

A new change to the schema is a new entry at the end of `MIGRATIONS`; a released entry
is never edited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from hubbub.schema import Migration, MigrationFailed, SchemaError, SchemaStatus, latest, pending

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial",
        (
            """CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    username TEXT COLLATE "C" NOT NULL UNIQUE,
    email TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    display_name_lower TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    confirmed BOOLEAN NOT NULL
)""",
            "CREATE INDEX users_by_display_name ON users (display_name_lower)",
            """CREATE TABLE conversations (
    id TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    created_by TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    last_seq BIGINT NOT NULL,
    direct_key TEXT COLLATE "C" UNIQUE
)""",
            """CREATE TABLE members (
    conversation_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    role TEXT NOT NULL,
    joined_at TIMESTAMPTZ NOT NULL,
    read_seq BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
)""",
            "CREATE INDEX members_by_user ON members (user_id, conversation_id)",
            """CREATE TABLE messages (
    conversation_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    sender_id TEXT COLLATE "C" NOT NULL,
    client_message_id TEXT COLLATE "C" NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    edited_at TIMESTAMPTZ,
    deleted BOOLEAN NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (sender_id, client_message_id)
)""",
            """CREATE TABLE events (
    cursor BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type TEXT NOT NULL,
    payload BYTEA NOT NULL
)""",
            """CREATE TABLE user_events (
    user_id TEXT COLLATE "C" NOT NULL,
    cursor BIGINT NOT NULL,
    PRIMARY KEY (user_id, cursor)
)""",
            """CREATE TABLE credentials (
    user_id TEXT COLLATE "C" PRIMARY KEY,
    username TEXT COLLATE "C" NOT NULL UNIQUE,
    email TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    confirmed BOOLEAN NOT NULL,
    code_hash TEXT,
    code_expires_at TIMESTAMPTZ
)""",
            """CREATE TABLE refresh_tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL,
    family_id TEXT COLLATE "C" NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
)""",
            "CREATE INDEX refresh_by_family ON refresh_tokens (family_id)",
            "CREATE INDEX refresh_by_user ON refresh_tokens (user_id)",
            """CREATE TABLE ended_sessions (
    session_id TEXT COLLATE "C" PRIMARY KEY,
    until TIMESTAMPTZ NOT NULL
)""",
        ),
    ),
    # The sync log that scales (SQLite's migration 4, docs/design/sync.md): one log
    # per conversation holding references, receipts counted per conversation, resume
    # points per user; the global log, which held copies of message bodies, is dropped.
    Migration(
        2,
        "sync-log",
        (
            "ALTER TABLE conversations ADD COLUMN last_event_seq BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE members ADD COLUMN joined_event_seq BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE members ADD COLUMN receipt_seq BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE users ADD COLUMN departure_seq BIGINT NOT NULL DEFAULT 0",
            """CREATE TABLE user_departures (
    user_id TEXT COLLATE "C" NOT NULL,
    departure_seq BIGINT NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, departure_seq)
)""",
            """CREATE TABLE conversation_events (
    conversation_id TEXT COLLATE "C" NOT NULL,
    event_seq BIGINT NOT NULL,
    type TEXT NOT NULL,
    actor_id TEXT COLLATE "C",
    subject_id TEXT COLLATE "C",
    message_id TEXT COLLATE "C",
    detail BYTEA,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (conversation_id, event_seq)
)""",
            """CREATE TABLE conversation_receipts (
    conversation_id TEXT COLLATE "C" PRIMARY KEY,
    last_receipt_seq BIGINT NOT NULL
)""",
            """CREATE TABLE sync_snapshots (
    user_id TEXT COLLATE "C" NOT NULL,
    snapshot_id TEXT COLLATE "C" NOT NULL,
    positions TEXT NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, snapshot_id)
)""",
            "DROP TABLE user_events",
            "DROP TABLE events",
        ),
    ),
    # "Last seen" for contacts (SQLite's migration 5): when each user's last connection
    # closed; NULL for everyone until they next go offline.
    Migration(
        3,
        "last-seen",
        ("ALTER TABLE users ADD COLUMN last_seen_at TIMESTAMPTZ",),
    ),
    # Attachments (SQLite's migration 6): uploaded files' metadata, and on each message
    # the metadata of what was sent with it.
    Migration(
        4,
        "attachments",
        (
            """CREATE TABLE attachments (
    id TEXT COLLATE "C" PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL,
    uploader_id TEXT COLLATE "C" NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    width INTEGER,
    height INTEGER,
    has_thumbnail BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    message_id TEXT COLLATE "C"
)""",
            "CREATE INDEX attachments_by_message ON attachments (conversation_id, message_id)",
            "CREATE INDEX attachments_unsent ON attachments (created_at) WHERE message_id IS NULL",
            "ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]'",
        ),
    ),
    # Search (SQLite's migration 7): GIN expression indexes over the 'simple' text
    # search configuration (lower-cased words, no stemming, no stop words: chat is
    # written in every language at once, and one language's stemmer and stop words
    # would mangle the others). Expression indexes rather than stored tsvector columns:
    # edits reindex by themselves and nothing is stored twice. Building them indexes
    # every existing message and name. Text is lower-cased with ICU's root collation
    # first: 'simple' lower-cases by the database's locale, and under the C locale
    # (`make scale-out`, the tests) that folds ASCII only, so "ПРИВЕТ" would not be
    # found by "привет". `postgres.py` queries the very same expressions.
    Migration(
        5,
        "search",
        (
            "CREATE INDEX messages_search ON messages"
            """ USING GIN (to_tsvector('simple', lower(body COLLATE "und-x-icu")))""",
            "CREATE INDEX users_search ON users"
            """ USING GIN (to_tsvector('simple', lower(display_name COLLATE "und-x-icu")))""",
        ),
    ),
    # Per-member mute (issue 13, notifications): when the member's own mute ends, NULL
    # while not muted. On the membership row, so it goes when the member leaves.
    Migration(6, "member-mute", ("ALTER TABLE members ADD COLUMN muted_until TIMESTAMPTZ",)),
    # Blocking a user (issue 13; SQLite's migration 9): one row per blocker and blocked
    # user, and an index for "who blocked me".
    Migration(
        7,
        "user-blocks",
        (
            """CREATE TABLE blocks (
    blocker_id TEXT COLLATE "C" NOT NULL,
    blocked_id TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
)""",
            "CREATE INDEX blocks_by_blocked ON blocks (blocked_id, blocker_id)",
        ),
    ),
    # Replies and reactions (issue 13; SQLite's migration 10): a reply keeps only the id
    # of the message it quotes, and reactions are rows of their own.
    Migration(
        8,
        "replies-reactions",
        (
            'ALTER TABLE messages ADD COLUMN reply_to_id TEXT COLLATE "C"',
            """CREATE TABLE message_reactions (
    conversation_id TEXT COLLATE "C" NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    emoji TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (conversation_id, message_id, user_id, emoji)
)""",
        ),
    ),
    # Profile avatar (issue 13; SQLite's migration 11): the random id of the user's
    # current picture in the attachment store (`avatars/<id>`), NULL while they have none.
    Migration(9, "user-avatar", ('ALTER TABLE users ADD COLUMN avatar_id TEXT COLLATE "C"',)),
    # User search that stays flat as users grow (issue 12, B10; SQLite's migration 12):
    # the words of each display name beside the username, one index per distinct word
    # in username order. The store writes a user's words with the user, split by
    # `hubbub.domain.search.words`; existing names are split here the same way (NFC,
    # lower case, runs of letters and digits by ICU's classes).
    Migration(
        10,
        "user-name-words",
        (
            """CREATE TABLE user_name_words (
    word TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (word, username)
)""",
            "CREATE INDEX user_name_words_by_user ON user_name_words (user_id)",
            "INSERT INTO user_name_words (word, username, user_id)"
            " SELECT DISTINCT w.m[1], u.username, u.id FROM users u,"
            """ regexp_matches(lower(normalize(u.display_name, NFC) COLLATE "und-x-icu"),"""
            " '[[:alnum:]]+', 'g') AS w(m)",
        ),
    ),
)

_VERSIONS = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)"""
# pg_advisory_xact_lock keys (one bigint each) of this deployment's shared locks.
MIGRATION_LOCK = 0x68756262_00000001


def migrate(url: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> tuple[int, int]:
    """Brings the database at `url` to the latest version, one transaction per
    migration. Returns (version before, version after). Raises `SchemaTooNew` for a
    database a newer Hubbub migrated and `SchemaError` for one that is not Hubbub's;
    `MigrationFailed` leaves the version before the failure."""
    top = latest(migrations)
    with _connect(url) as db:
        where = _where(db)
        before: int | None = None
        while True:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                applied = _applied(db, where)
                todo = pending(applied, migrations, where)
                if before is None:
                    before = max(applied, default=0)
                if not todo:
                    return before, top
                db.execute(_VERSIONS)
                step = todo[0]
                try:
                    with db.transaction():  # a savepoint: the error names the migration
                        for statement in step.statements:
                            db.execute(statement.encode())
                except psycopg.Error as error:
                    raise MigrationFailed(
                        f"migration {step.version} ({step.name}) of {where} failed: {error};"
                        f" the database stays at version {step.version - 1}"
                    ) from error
                db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                    (step.version, step.name, datetime.now(UTC)),
                )


def status(url: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> SchemaStatus:
    """Where the database at `url` stands, without changing it. Raises like `migrate`
    for a database this code cannot use."""
    top = latest(migrations)
    with _connect(url) as db, db.transaction():
        where = _where(db)
        applied = _applied(db, where)
        pending(applied, migrations, where)
        return SchemaStatus(max(applied, default=0), top)


def require_current(url: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
    """Refuses (`SchemaError`) a database whose schema is not at the latest version."""
    now = status(url, migrations)
    if now.pending:
        raise SchemaError(
            f"the PostgreSQL database is at schema version {now.current}, this Hubbub needs"
            f" {now.latest}: run `hubbub migrate` (with the same HUBBUB_DATABASE_URL) first;"
            " servers on PostgreSQL never migrate on their own"
        )


def describe(url: str) -> str:
    """The database's host, port and name for messages: never its password."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"postgresql://{host}:{port}/{info.get('dbname') or ''}"


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise SchemaError(f"cannot reach the database {describe(url)}: {error}") from error


def _where(db: psycopg.Connection[Any]) -> str:
    row = db.execute("SELECT current_database(), current_schema()").fetchone()
    assert row is not None
    return f"the PostgreSQL database {row[0]} (schema {row[1]})"


def _applied(db: psycopg.Connection[Any], where: str) -> dict[int, str]:
    """{version: name} of the migrations applied; a database with tables of its own
    and no record of migrations is refused."""
    rows = db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchall()
    tables = {str(row[0]) for row in rows}
    if "schema_migrations" in tables:
        found = db.execute("SELECT version, name FROM schema_migrations").fetchall()
        return {int(version): str(name) for version, name in found}
    if tables:
        raise SchemaError(
            f"{where} is not a Hubbub database (it has tables {', '.join(sorted(tables))});"
            " point HUBBUB_DATABASE_URL at an empty database or one Hubbub migrated"
        )
    return {}
