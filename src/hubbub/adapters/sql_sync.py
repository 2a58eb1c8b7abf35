"""The conversation logs, read receipts and sync snapshots in SQL: one implementation of
`ConversationLog` and `SyncState` for SQLite and PostgreSQL, whose SQL for them is the
same (upserts, RETURNING, row values). Each adapter hands it a `Statements`: how to run
a statement on its connection and how it stores a moment.

Statements are written with `%s` placeholders; SQLite's `Statements` turns them into `?`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson

from hubbub.domain.models import LogEntry, ReadMarker, SyncHead


class Row(Protocol):
    """A result row, read by column name (a `sqlite3.Row`, a psycopg dict row)."""

    def __getitem__(self, column: str, /) -> Any: ...


class Statements(Protocol):
    # Whether a WITH may hold an UPDATE whose rows an INSERT uses (PostgreSQL: yes,
    # SQLite: no): one round trip instead of two.
    writable_ctes: bool

    def one(self, sql: str, *args: Any) -> Row | None: ...
    def all(self, sql: str, *args: Any) -> Sequence[Row]: ...
    def run(self, sql: str, *args: Any) -> int:
        """Runs a statement that returns no rows; the number of rows it changed."""
        ...

    def stamp(self, moment: datetime) -> Any:
        """A moment as this database stores it."""
        ...

    def moment(self, stored: Any) -> datetime: ...


class SqlLog:
    """`ConversationLog`: a position is taken by incrementing the conversation's counter
    (`UPDATE ... RETURNING`), which locks its row until the transaction ends, so a
    conversation's entries commit in the order of their positions."""

    def __init__(self, sql: Statements) -> None:
        self._sql = sql

    def append(self, entry: LogEntry) -> int | None:
        row = self._sql.one(
            "UPDATE conversations SET last_event_seq = last_event_seq + 1 WHERE id = %s"
            " RETURNING last_event_seq",
            entry.conversation_id,
        )
        if row is None:
            return None
        seq = int(row["last_event_seq"])
        self._insert(entry, seq)
        return seq

    def append_message(self, entry: LogEntry, at: datetime) -> tuple[int, int] | None:
        stamp = self._sql.stamp(at)
        if self._sql.writable_ctes:
            row = self._sql.one(
                "WITH taken AS (UPDATE conversations SET last_seq = last_seq + 1,"
                " last_event_seq = last_event_seq + 1,"
                " updated_at = CASE WHEN updated_at < %s THEN %s ELSE updated_at END"
                " WHERE id = %s RETURNING id, last_seq, last_event_seq)"
                " INSERT INTO conversation_events (conversation_id, event_seq, type, actor_id,"
                " subject_id, message_id, detail, created_at)"
                " SELECT id, last_event_seq, %s::text, %s::text, %s::text, %s::text, %s::bytea,"
                " %s::timestamptz FROM taken"
                " RETURNING (SELECT last_seq FROM taken) AS last_seq, event_seq AS last_event_seq",
                stamp,
                stamp,
                entry.conversation_id,
                *self._described(entry),
            )
            return (int(row["last_seq"]), int(row["last_event_seq"])) if row else None
        row = self._sql.one(
            "UPDATE conversations SET last_seq = last_seq + 1,"
            " last_event_seq = last_event_seq + 1,"
            " updated_at = CASE WHEN updated_at < %s THEN %s ELSE updated_at END"
            " WHERE id = %s RETURNING last_seq, last_event_seq",
            stamp,
            stamp,
            entry.conversation_id,
        )
        if row is None:
            return None
        seq, event_seq = int(row["last_seq"]), int(row["last_event_seq"])
        self._insert(entry, event_seq)
        return seq, event_seq

    def _insert(self, entry: LogEntry, event_seq: int) -> None:
        self._sql.run(
            "INSERT INTO conversation_events (conversation_id, event_seq, type, actor_id,"
            " subject_id, message_id, detail, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            entry.conversation_id,
            event_seq,
            *self._described(entry),
        )

    def _described(self, entry: LogEntry) -> tuple[Any, ...]:
        """An entry's columns after its position: type, actor, subject, message, detail, at."""
        detail = orjson.dumps(entry.detail) if entry.detail else None
        at = self._sql.stamp(entry.at)
        return (entry.type, entry.actor_id, entry.subject_id, entry.message_id, detail, at)

    def after(self, conversation_id: str, event_seq: int, limit: int) -> list[LogEntry]:
        rows = self._sql.all(
            "SELECT * FROM conversation_events WHERE conversation_id = %s AND event_seq > %s"
            " ORDER BY event_seq LIMIT %s",
            conversation_id,
            event_seq,
            limit,
        )
        return [self._entry(row) for row in rows]

    def last_removal(self, conversation_id: str, user_id: str) -> LogEntry | None:
        row = self._sql.one(
            "SELECT * FROM conversation_events WHERE conversation_id = %s AND subject_id = %s"
            " AND type = 'member.removed' ORDER BY event_seq DESC LIMIT 1",
            conversation_id,
            user_id,
        )
        return self._entry(row) if row else None

    def record_receipt(self, conversation_id: str, user_id: str) -> int:
        row = self._sql.one(
            "INSERT INTO conversation_receipts AS r (conversation_id, last_receipt_seq)"
            " VALUES (%s, 1) ON CONFLICT (conversation_id)"
            " DO UPDATE SET last_receipt_seq = r.last_receipt_seq + 1 RETURNING last_receipt_seq",
            conversation_id,
        )
        assert row is not None
        seq = int(row["last_receipt_seq"])
        self._sql.run(
            "UPDATE members SET receipt_seq = %s WHERE conversation_id = %s AND user_id = %s",
            seq,
            conversation_id,
            user_id,
        )
        return seq

    def read_markers_after(
        self, conversation_id: str, receipt_seq: int, limit: int
    ) -> list[ReadMarker]:
        rows = self._sql.all(
            "SELECT user_id, read_seq, receipt_seq FROM members"
            " WHERE conversation_id = %s AND receipt_seq > %s ORDER BY receipt_seq LIMIT %s",
            conversation_id,
            receipt_seq,
            limit,
        )
        return [ReadMarker(row["user_id"], row["read_seq"], row["receipt_seq"]) for row in rows]

    def _entry(self, row: Row) -> LogEntry:
        return LogEntry(
            conversation_id=row["conversation_id"],
            type=row["type"],
            at=self._sql.moment(row["created_at"]),
            event_seq=row["event_seq"],
            actor_id=row["actor_id"],
            subject_id=row["subject_id"],
            message_id=row["message_id"],
            detail=orjson.loads(row["detail"]) if row["detail"] else {},
        )


class SqlSync:
    """`SyncState`."""

    def __init__(self, sql: Statements) -> None:
        self._sql = sql

    def heads(self, user_id: str) -> list[SyncHead]:
        rows = self._sql.all(
            "SELECT m.conversation_id, m.joined_event_seq, c.last_event_seq,"
            " COALESCE(r.last_receipt_seq, 0) AS last_receipt_seq, m.muted_until FROM members m"
            " JOIN conversations c ON c.id = m.conversation_id"
            " LEFT JOIN conversation_receipts r ON r.conversation_id = m.conversation_id"
            " WHERE m.user_id = %s",
            user_id,
        )
        return [
            SyncHead(
                row["conversation_id"],
                row["joined_event_seq"],
                row["last_event_seq"],
                row["last_receipt_seq"],
                self._sql.moment(row["muted_until"]) if row["muted_until"] is not None else None,
            )
            for row in rows
        ]

    def record_departure(self, user_id: str, conversation_id: str) -> int:
        row = self._sql.one(
            "UPDATE users SET departure_seq = departure_seq + 1 WHERE id = %s"
            " RETURNING departure_seq",
            user_id,
        )
        assert row is not None, "a member is a user"
        seq = int(row["departure_seq"])
        self._sql.run(
            "INSERT INTO user_departures (user_id, departure_seq, conversation_id)"
            " VALUES (%s, %s, %s)",
            user_id,
            seq,
            conversation_id,
        )
        return seq

    def departures_after(self, user_id: str, seq: int, limit: int) -> list[tuple[int, str]]:
        rows = self._sql.all(
            "SELECT departure_seq, conversation_id FROM user_departures"
            " WHERE user_id = %s AND departure_seq > %s ORDER BY departure_seq LIMIT %s",
            user_id,
            seq,
            limit,
        )
        return [(int(row["departure_seq"]), str(row["conversation_id"])) for row in rows]

    def departure_head(self, user_id: str) -> int:
        row = self._sql.one("SELECT departure_seq FROM users WHERE id = %s", user_id)
        return int(row["departure_seq"]) if row else 0

    def save_snapshot(
        self, user_id: str, snapshot_id: str, positions: str, at: datetime, *, keep: int
    ) -> None:
        self._sql.run(
            "INSERT INTO sync_snapshots (user_id, snapshot_id, positions, saved_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (user_id, snapshot_id)"
            " DO UPDATE SET saved_at = excluded.saved_at",
            user_id,
            snapshot_id,
            positions,
            self._sql.stamp(at),
        )
        self._sql.run(
            "DELETE FROM sync_snapshots WHERE user_id = %s AND snapshot_id NOT IN"
            " (SELECT snapshot_id FROM sync_snapshots WHERE user_id = %s"
            " ORDER BY saved_at DESC LIMIT %s)",
            user_id,
            user_id,
            keep,
        )

    def load_snapshot(self, user_id: str, snapshot_id: str) -> str | None:
        row = self._sql.one(
            "SELECT positions FROM sync_snapshots WHERE user_id = %s AND snapshot_id = %s",
            user_id,
            snapshot_id,
        )
        return str(row["positions"]) if row else None
