"""Reactions in SQL: one `ReactionRepository` for SQLite and PostgreSQL, through the
same `Statements` seam as `sql_sync`."""

from __future__ import annotations

from collections.abc import Sequence

from hubbub.adapters import sql_keys
from hubbub.adapters.sql_sync import Row, Statements
from hubbub.domain.models import Reaction


class SqlReactions:
    """`ReactionRepository`. `share_lock` is appended to the read of the message a
    reaction is added to: PostgreSQL passes ` FOR SHARE`, so a delete of that message
    either waits for the reaction's transaction (and then clears what it added) or
    commits first (and the reaction is refused); SQLite runs one writer at a time."""

    def __init__(self, sql: Statements, share_lock: str = "") -> None:
        self._sql = sql
        self._share_lock = share_lock

    def add(self, reaction: Reaction) -> bool | None:
        message = self._sql.one(
            "SELECT deleted FROM messages WHERE id = %s AND conversation_id = %s"
            + self._share_lock,
            reaction.message_id,
            reaction.conversation_id,
        )
        if message is None or message["deleted"]:
            return None
        added = self._sql.run(
            "INSERT INTO message_reactions (conversation_id, message_id, user_id, emoji,"
            " created_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            reaction.conversation_id,
            reaction.message_id,
            reaction.user_id,
            reaction.emoji,
            self._sql.stamp(reaction.created_at),
        )
        return added > 0

    def remove(self, conversation_id: str, message_id: str, user_id: str, emoji: str) -> bool:
        removed = self._sql.run(
            "DELETE FROM message_reactions WHERE conversation_id = %s AND message_id = %s"
            " AND user_id = %s AND emoji = %s",
            conversation_id,
            message_id,
            user_id,
            emoji,
        )
        return removed > 0

    def of_messages(self, conversation_id: str, message_ids: Sequence[str]) -> list[Reaction]:
        ids = list(dict.fromkeys(message_ids))
        if not ids:
            return []
        rows = self._sql.all(
            "SELECT * FROM message_reactions WHERE conversation_id = %s AND message_id IN ("
            + ", ".join(["%s"] * len(ids))
            + ") ORDER BY created_at, user_id, emoji",
            conversation_id,
            *ids,
        )
        return self._reactions(rows)

    def of_keys(self, keys: Sequence[tuple[str, str]]) -> list[Reaction]:
        pairs = sql_keys.distinct_pairs(keys)
        if not pairs:
            return []
        rows = self._sql.all(
            "SELECT * FROM message_reactions WHERE "
            + sql_keys.pairs_matching("message_id", len(pairs))
            + " ORDER BY created_at, user_id, emoji",
            *sql_keys.flattened(pairs),
        )
        return self._reactions(rows)

    def _reactions(self, rows: Sequence[Row]) -> list[Reaction]:
        return [
            Reaction(
                row["conversation_id"],
                row["message_id"],
                row["user_id"],
                row["emoji"],
                self._sql.moment(row["created_at"]),
            )
            for row in rows
        ]

    def clear(self, conversation_id: str, message_id: str) -> None:
        self._sql.run(
            "DELETE FROM message_reactions WHERE conversation_id = %s AND message_id = %s",
            conversation_id,
            message_id,
        )
