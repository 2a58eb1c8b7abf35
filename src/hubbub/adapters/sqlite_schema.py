"""The SQLite schema as ordered migrations, and the runner that applies them.

Version 1 is the schema of release 77635e6, statement for statement, so a database
it wrote is that version exactly. Databases from before versioning have no
`schema_migrations` table; they are recognised by their tables and stamped with the
version their shape shows (see `_adopt`). Each later migration runs in its own
`BEGIN IMMEDIATE` transaction together with its `schema_migrations` row: SQLite's DDL
is transactional, so a failure leaves the previous version, and two processes starting
at once take turns (the second finds the work done).

A new change to the schema is a new entry at the end of `MIGRATIONS`; a released entry
is never edited.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from hubbub.domain import search
from hubbub.schema import Migration, MigrationFailed, SchemaError, SchemaStatus, latest, pending

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial",
        (
            """CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    display_name_lower TEXT NOT NULL,
    created_at TEXT NOT NULL,
    confirmed INTEGER NOT NULL
)""",
            "CREATE INDEX IF NOT EXISTS users_by_display_name ON users (display_name_lower)",
            """CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    direct_key TEXT UNIQUE
)""",
            """CREATE TABLE IF NOT EXISTS members (
    conversation_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    joined_at TEXT NOT NULL,
    read_seq INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID""",
            "CREATE INDEX IF NOT EXISTS members_by_user ON members (user_id, conversation_id)",
            """CREATE TABLE IF NOT EXISTS messages (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    sender_id TEXT NOT NULL,
    client_message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    edited_at TEXT,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (sender_id, client_message_id)
) WITHOUT ROWID""",
            """CREATE TABLE IF NOT EXISTS events (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    payload BLOB NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS user_events (
    user_id TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    PRIMARY KEY (user_id, cursor)
) WITHOUT ROWID""",
            """CREATE TABLE IF NOT EXISTS credentials (
    user_id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    confirmed INTEGER NOT NULL,
    code_hash TEXT,
    code_expires_at TEXT
)""",
            """CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    family_id TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used INTEGER NOT NULL
)""",
            "CREATE INDEX IF NOT EXISTS refresh_by_family ON refresh_tokens (family_id)",
            "CREATE INDEX IF NOT EXISTS refresh_by_user ON refresh_tokens (user_id)",
        ),
    ),
    # Sign-out ends sessions at once (70c646c, 1ba5dc5): ended sessions, and when each
    # refresh token was rotated. Rows from version 1 keep used_at NULL; the store reads
    # `used = 1` without a time as "rotated long ago".
    Migration(
        2,
        "sessions",
        (
            """CREATE TABLE IF NOT EXISTS ended_sessions (
    session_id TEXT PRIMARY KEY,
    until TEXT NOT NULL
) WITHOUT ROWID""",
            "ALTER TABLE refresh_tokens ADD COLUMN used_at TEXT",
        ),
    ),
    # Display names are NFC since abd8ffc and search folds its query to NFC: a name the
    # release stored decomposed could not be found. (hubbub_nfc, hubbub_lower: below.)
    Migration(
        3,
        "nfc-display-names",
        (
            "UPDATE users SET display_name = hubbub_nfc(display_name),"
            " display_name_lower = hubbub_lower(hubbub_nfc(display_name))"
            " WHERE display_name != hubbub_nfc(display_name)",
        ),
    ),
    # The sync log that scales (issue 9, docs/design/sync.md): one log per conversation
    # holding references, read receipts counted per conversation, resume points saved
    # per user. The old global log held copies of message bodies (deleted and edited
    # ones too): it is dropped, and `secure_delete` (set on every connection) zeroes its
    # pages. Existing conversations start with an empty log at position 0: their history
    # is in `messages`, and a client resumes with `since=0` (old cursors get 410).
    Migration(
        4,
        "sync-log",
        (
            "ALTER TABLE conversations ADD COLUMN last_event_seq INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE members ADD COLUMN joined_event_seq INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE members ADD COLUMN receipt_seq INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE users ADD COLUMN departure_seq INTEGER NOT NULL DEFAULT 0",
            """CREATE TABLE user_departures (
    user_id TEXT NOT NULL,
    departure_seq INTEGER NOT NULL,
    conversation_id TEXT NOT NULL,
    PRIMARY KEY (user_id, departure_seq)
) WITHOUT ROWID""",
            """CREATE TABLE conversation_events (
    conversation_id TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    actor_id TEXT,
    subject_id TEXT,
    message_id TEXT,
    detail BLOB,
    created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, event_seq)
) WITHOUT ROWID""",
            """CREATE TABLE conversation_receipts (
    conversation_id TEXT PRIMARY KEY,
    last_receipt_seq INTEGER NOT NULL
) WITHOUT ROWID""",
            """CREATE TABLE sync_snapshots (
    user_id TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    positions TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (user_id, snapshot_id)
) WITHOUT ROWID""",
            "DROP TABLE user_events",
            "DROP TABLE events",
        ),
    ),
    # "Last seen" for contacts (issue 13): when each user's last connection closed.
    # NULL for everyone until they next go offline.
    Migration(
        5,
        "last-seen",
        ("ALTER TABLE users ADD COLUMN last_seen_at TEXT",),
    ),
    # Attachments (issue 13): uploaded files' metadata (bytes live in the attachment
    # store), and on each message the metadata of what was sent with it.
    Migration(
        6,
        "attachments",
        (
            """CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    uploader_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    has_thumbnail INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    message_id TEXT
) WITHOUT ROWID""",
            "CREATE INDEX attachments_by_message ON attachments (conversation_id, message_id)",
            "CREATE INDEX attachments_unsent ON attachments (created_at) WHERE message_id IS NULL",
            "ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]'",
        ),
    ),
    # Search (issue 13): FTS5 indexes of message bodies and display names, kept in step
    # by triggers, so every write path (and a direct SQL fix) keeps them right. Both
    # are external-content tables: they hold the index only, no second copy of the
    # text; their content is a view over a table of integer document ids, since
    # `messages` has no rowid (WITHOUT ROWID) and `users`' implicit rowid may change
    # in a VACUUM. Document ids follow the order messages were sent in, so the newest
    # matches come straight off the index, newest first, without sorting every match;
    # `prefix` indexes make short prefixes ("lu") cheap. Deleted messages leave the
    # index. Words are runs of letters and
    # digits folded to lower case, diacritics kept, as in `hubbub.domain.search`
    # (PostgreSQL's 'simple' configuration does the same). Existing messages and
    # names are indexed by the 'rebuild' at the end.
    Migration(
        7,
        "search",
        (
            """CREATE TABLE message_search_docs (
    docid INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
)""",
            """CREATE VIEW message_search_content AS
    SELECT d.docid AS docid, m.body AS body FROM message_search_docs d
    JOIN messages m ON m.conversation_id = d.conversation_id AND m.seq = d.seq""",
            """CREATE VIRTUAL TABLE message_search USING fts5(
    body, content='message_search_content', content_rowid='docid',
    tokenize='unicode61 remove_diacritics 0', prefix='2 3'
)""",
            """CREATE TRIGGER message_search_insert AFTER INSERT ON messages
WHEN new.deleted = 0 BEGIN
    INSERT INTO message_search_docs (conversation_id, seq) VALUES (new.conversation_id, new.seq);
    INSERT INTO message_search (rowid, body) VALUES (last_insert_rowid(), new.body);
END""",
            # A deleted message leaves the index but keeps its document id: a search
            # cursor at it still knows where it was.
            """CREATE TRIGGER message_search_update AFTER UPDATE OF body, deleted ON messages
BEGIN
    INSERT INTO message_search (message_search, rowid, body)
        SELECT 'delete', docid, old.body FROM message_search_docs
        WHERE conversation_id = old.conversation_id AND seq = old.seq AND old.deleted = 0;
    INSERT INTO message_search (rowid, body)
        SELECT docid, new.body FROM message_search_docs
        WHERE conversation_id = new.conversation_id AND seq = new.seq AND new.deleted = 0;
END""",
            """CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, body)
        SELECT 'delete', docid, old.body FROM message_search_docs
        WHERE conversation_id = old.conversation_id AND seq = old.seq AND old.deleted = 0;
    DELETE FROM message_search_docs
        WHERE conversation_id = old.conversation_id AND seq = old.seq;
END""",
            """CREATE TABLE user_search_docs (
    docid INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE
)""",
            """CREATE VIEW user_search_content AS
    SELECT d.docid AS docid, u.display_name AS display_name FROM user_search_docs d
    JOIN users u ON u.id = d.user_id""",
            """CREATE VIRTUAL TABLE user_search USING fts5(
    display_name, content='user_search_content', content_rowid='docid',
    tokenize='unicode61 remove_diacritics 0', prefix='2 3'
)""",
            """CREATE TRIGGER user_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_search_docs (user_id) VALUES (new.id);
    INSERT INTO user_search (rowid, display_name) VALUES (last_insert_rowid(), new.display_name);
END""",
            """CREATE TRIGGER user_search_update AFTER UPDATE OF display_name ON users BEGIN
    INSERT INTO user_search (user_search, rowid, display_name)
        SELECT 'delete', docid, old.display_name FROM user_search_docs WHERE user_id = old.id;
    INSERT INTO user_search (rowid, display_name)
        SELECT docid, new.display_name FROM user_search_docs WHERE user_id = new.id;
END""",
            """CREATE TRIGGER user_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO user_search (user_search, rowid, display_name)
        SELECT 'delete', docid, old.display_name FROM user_search_docs WHERE user_id = old.id;
    DELETE FROM user_search_docs WHERE user_id = old.id;
END""",
            # Oldest first, so document ids follow time like those of new messages.
            "INSERT INTO message_search_docs (conversation_id, seq) SELECT conversation_id, seq"
            " FROM messages WHERE deleted = 0 ORDER BY created_at, conversation_id, seq",
            "INSERT INTO message_search (message_search) VALUES ('rebuild')",
            "INSERT INTO user_search_docs (user_id) SELECT id FROM users ORDER BY created_at, id",
            "INSERT INTO user_search (user_search) VALUES ('rebuild')",
        ),
    ),
    # Per-member mute (issue 13, notifications): when the member's own mute ends, NULL
    # while not muted. On the membership row, so it goes when the member leaves.
    Migration(8, "member-mute", ("ALTER TABLE members ADD COLUMN muted_until TEXT",)),
    # Blocking a user (issue 13): one row per blocker and blocked user. The second index
    # answers "who blocked me" (presence, the direct chat's view) without a scan.
    Migration(
        9,
        "user-blocks",
        (
            """CREATE TABLE blocks (
    blocker_id TEXT NOT NULL,
    blocked_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
) WITHOUT ROWID""",
            "CREATE INDEX blocks_by_blocked ON blocks (blocked_id, blocker_id)",
        ),
    ),
    # Replies and reactions (issue 13): a reply keeps only the id of the message it
    # quotes (never its text), and reactions are rows of their own, one per (message,
    # user, emoji). Existing messages are no replies and have no reactions.
    Migration(
        10,
        "replies-reactions",
        (
            "ALTER TABLE messages ADD COLUMN reply_to_id TEXT",
            """CREATE TABLE message_reactions (
    conversation_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    emoji TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, message_id, user_id, emoji)
) WITHOUT ROWID""",
        ),
    ),
    # Profile avatar (issue 13): the random id of the user's current picture in the
    # attachment store (`avatars/<id>`), NULL while they have none.
    Migration(11, "user-avatar", ("ALTER TABLE users ADD COLUMN avatar_id TEXT",)),
    # User search that stays flat as users grow (issue 12, B10): the words of each
    # display name (`hubbub.domain.search.words`) beside the username, so the first
    # users by username whose name has a word starting "mar" come off one index per
    # distinct word, in order, instead of every match being fetched and sorted. The
    # store writes a user's words with the user (Python's folding, as the memory store
    # matches); existing names are split here by the same function (hubbub_words).
    Migration(
        12,
        "user-name-words",
        (
            """CREATE TABLE user_name_words (
    word TEXT NOT NULL,
    username TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (word, username)
) WITHOUT ROWID""",
            "CREATE INDEX user_name_words_by_user ON user_name_words (user_id)",
            "INSERT INTO user_name_words (word, username, user_id)"
            " SELECT DISTINCT w.value, u.username, u.id"
            " FROM users u, json_each(hubbub_words(u.display_name)) w",
        ),
    ),
)

_VERSIONS = """CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""
_V1_TABLES = frozenset(
    {"users", "conversations", "members", "messages", "events", "user_events"}
    | {"credentials", "refresh_tokens"}
)
# What code from before versioning may have created (sqlite_sequence comes with
# AUTOINCREMENT).
_UNVERSIONED = _V1_TABLES | {"ended_sessions", "sqlite_sequence"}


def migrate(
    db: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS
) -> tuple[int, int]:
    """Brings the database on `db` (autocommit mode, no transaction open) to the latest
    version, one transaction per migration. Returns (version before, version after).

    Raises `SchemaTooNew` for a database a newer Hubbub migrated and `SchemaError` for
    one that is not Hubbub's; `MigrationFailed` leaves the version before the failure."""
    top = latest(migrations)
    where = f"the database {_name(db)}"
    _add_functions(db)
    before: int | None = None
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            applied = _applied(db, migrations)
            todo = pending(applied, migrations, where)
            if before is None:
                before = max(applied, default=0)
            if not todo:
                db.execute("COMMIT")
                if before < top:
                    # Dropped tables' pages (zeroed by secure_delete) reach the file now
                    # rather than at some later checkpoint; a process migrating at the
                    # same moment may hold it up, and then that later one does it.
                    with contextlib.suppress(sqlite3.OperationalError):
                        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return before, top
            step = todo[0]
            try:
                for statement in step.statements:
                    db.execute(statement)
            except sqlite3.Error as error:
                raise MigrationFailed(
                    f"migration {step.version} ({step.name}) of {where} failed: {error};"
                    f" the database stays at version {step.version - 1}"
                ) from error
            _stamp(db, step)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


def upgrade(path: Path, migrations: tuple[Migration, ...] = MIGRATIONS) -> tuple[int, int]:
    """`migrate` on the database file at `path`, created (owner-only directory) if it
    does not exist yet. Waits for a running server's write transaction to finish."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _one_upgrader(path):
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 10000")
            use_wal(db)
            db.execute("PRAGMA secure_delete = ON")
            return migrate(db, migrations)
        finally:
            db.close()


@contextlib.contextmanager
def _one_upgrader(path: Path) -> Iterator[None]:
    """Processes opening the database at once upgrade it one after the other, each
    run whole: migrations commit one by one (a failing one keeps those before it), so
    without this a second process could take up the steps after the first one's and
    both would report an upgrade. An exclusive lock on a file beside the database, not
    on the database itself: a second descriptor on SQLite's file would drop SQLite's
    own locks when closed."""
    lock_path = path.with_name(path.name + ".upgrade-lock")
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def use_wal(db: sqlite3.Connection, *, within: float = 10.0) -> None:
    """Puts the database in WAL mode. Leaving a rollback journal (a database from before
    WAL, or a fresh one) needs the database to itself, and SQLite answers "locked" at
    once, without its busy timeout, while another process starting at the same moment
    holds it: so wait for that one, as the busy timeout would."""
    deadline = time.monotonic() + within
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def status(path: Path, migrations: tuple[Migration, ...] = MIGRATIONS) -> SchemaStatus:
    """Where the database file at `path` stands, without changing it (nor creating it).
    Raises like `migrate` for a database this code cannot use."""
    top = latest(migrations)
    if not path.exists():
        return SchemaStatus(0, top)
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("BEGIN")
        applied = _applied(db, migrations, stamp=False)
        pending(applied, migrations, f"the database {path}")
        return SchemaStatus(max(applied, default=0), top)
    finally:
        db.close()


def _applied(
    db: sqlite3.Connection, migrations: tuple[Migration, ...], *, stamp: bool = True
) -> dict[int, str]:
    """{version: name} of the migrations applied, adopting (and with `stamp`, recording)
    a database from before versioning."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_migrations" in tables:
        rows = db.execute("SELECT version, name FROM schema_migrations")
        return {int(version): str(name) for version, name in rows}
    adopted = _adopt(db, tables, migrations)
    if stamp:
        db.execute(_VERSIONS)
        for step in migrations[:adopted]:
            _stamp(db, step)
    return {step.version: step.name for step in migrations[:adopted]}


def _adopt(db: sqlite3.Connection, tables: set[str], migrations: tuple[Migration, ...]) -> int:
    """The version of a database written before versioning, told by its shape: none of
    our tables is 0 (an interrupted first start-up is also 0: version 1's statements
    say IF NOT EXISTS and complete it); every table of version 1 is 1; with the
    `used_at` column too, 2 (that code created `ended_sessions` just before it)."""
    foreign = tables - _UNVERSIONED
    if foreign:
        raise SchemaError(
            f"the database {_name(db)} is not a Hubbub database (it has tables"
            f" {', '.join(sorted(foreign))}); point HUBBUB_DATA_DIR at Hubbub's data directory"
        )
    if not tables >= _V1_TABLES:
        return 0
    columns = {row[1] for row in db.execute("PRAGMA table_info(refresh_tokens)")}
    return min(2 if "used_at" in columns else 1, len(migrations))


def _add_functions(db: sqlite3.Connection) -> None:
    """What the migrations need that SQLite lacks: NFC, and Python's Unicode lower()
    (the store's own folding; SQLite's lower() folds ASCII only)."""
    db.create_function("hubbub_nfc", 1, _nfc, deterministic=True)
    db.create_function("hubbub_lower", 1, _lower, deterministic=True)
    db.create_function("hubbub_words", 1, _words, deterministic=True)


def _nfc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFC", text)


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _words(text: str | None) -> str:
    """The distinct search words of a display name, as a JSON array."""
    return json.dumps(sorted(set(search.words(text or ""))))


def _stamp(db: sqlite3.Connection, step: Migration) -> None:
    db.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (step.version, step.name, datetime.now(UTC).isoformat()),
    )


def _name(db: sqlite3.Connection) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else "in memory"
