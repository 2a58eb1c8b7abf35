"""The SQLite store: one file in WAL mode, the default for a single machine.

One writer thread owns the write connection. It takes every transaction waiting in
its queue, runs each inside its own SAVEPOINT (so one that raises is undone alone),
and commits the batch with a single fsync: group commit, without weakening "acked
means durable", because no caller hears back before the COMMIT returns. Reads run on
a small pool of read-only connections, each in its own snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from hubbub.adapters import sql_attachments, sql_keys
from hubbub.adapters.sql_attachments import SqlAttachments
from hubbub.adapters.sql_name_words import SqlNameWords
from hubbub.adapters.sql_reactions import SqlReactions
from hubbub.adapters.sql_sync import SqlLog, SqlSync
from hubbub.adapters.sqlite_schema import migrate, use_wal
from hubbub.domain import search
from hubbub.domain.errors import Conflict
from hubbub.domain.models import (
    Block,
    Conversation,
    ConversationKind,
    Membership,
    Message,
    Role,
    User,
)
from hubbub.ports import WRITE_ATTEMPTS, Credential, LostRace, RefreshToken

T = TypeVar("T")
MAX_BATCH = 256
log = logging.getLogger("hubbub.sqlite")


def _ts(moment: datetime) -> str:
    """Fixed-width UTC text, so string order is time order (what strftime's
    "%Y-%m-%dT%H:%M:%S.%f+00:00" gives, at a fraction of its cost)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        display_name=row["display_name"],
        created_at=_dt(row["created_at"]),
        confirmed=bool(row["confirmed"]),
        last_seen_at=_dt(row["last_seen_at"]) if row["last_seen_at"] else None,
        avatar_id=row["avatar_id"],
    )


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        kind=ConversationKind(row["kind"]),
        title=row["title"],
        created_by=row["created_by"],
        created_at=_dt(row["created_at"]),
        updated_at=_dt(row["updated_at"]),
        last_seq=row["last_seq"],
        direct_key=row["direct_key"],
        last_event_seq=row["last_event_seq"],
    )


def _membership(row: sqlite3.Row) -> Membership:
    return Membership(
        conversation_id=row["conversation_id"],
        user_id=row["user_id"],
        role=Role(row["role"]),
        joined_at=_dt(row["joined_at"]),
        read_seq=row["read_seq"],
        joined_event_seq=row["joined_event_seq"],
        muted_until=_dt(row["muted_until"]) if row["muted_until"] is not None else None,
    )


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        sender_id=row["sender_id"],
        body=row["body"],
        client_message_id=row["client_message_id"],
        created_at=_dt(row["created_at"]),
        edited_at=_dt(row["edited_at"]) if row["edited_at"] else None,
        deleted=bool(row["deleted"]),
        attachments=sql_attachments.decode(row["attachments"]),
        reply_to_id=row["reply_to_id"],
    )


def _credential(row: sqlite3.Row) -> Credential:
    return Credential(
        user_id=row["user_id"],
        username=row["username"],
        email=row["email"],
        password_hash=row["password_hash"],
        confirmed=bool(row["confirmed"]),
        confirmation_code_hash=row["code_hash"],
        code_expires_at=_dt(row["code_expires_at"]) if row["code_expires_at"] else None,
    )


@contextlib.contextmanager
def _unique(message: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as error:
        raise Conflict(message) from error


@contextlib.contextmanager
def _lost_race(message: str) -> Iterator[None]:
    """A unique key another transaction took first: the store re-runs the function."""
    try:
        yield
    except sqlite3.IntegrityError as error:
        raise LostRace(message) from error


class _Repo:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
        return row

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self._db.execute(sql, args).fetchall()


class _Users(_Repo):
    def __init__(self, db: sqlite3.Connection) -> None:
        super().__init__(db)
        self._words = SqlNameWords(_Statements(db))

    def get(self, user_id: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE id = ?", user_id)
        return _user(row) if row else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, User]:
        if not user_ids:
            return {}
        marks = ",".join("?" * len(user_ids))
        rows = self._all(f"SELECT * FROM users WHERE id IN ({marks})", *user_ids)
        return {row["id"]: _user(row) for row in rows}

    def by_username(self, username: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE username = ?", username.lower())
        return _user(row) if row else None

    def by_email(self, email: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE email = ?", email.lower())
        return _user(row) if row else None

    def insert(self, user: User) -> None:
        with _unique("That username or email is already registered."):
            self._db.execute(
                "INSERT INTO users (id, username, email, display_name, display_name_lower,"
                " created_at, confirmed, avatar_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    user.id,
                    user.username,
                    user.email,
                    user.display_name,
                    user.display_name.lower(),
                    _ts(user.created_at),
                    int(user.confirmed),
                    user.avatar_id,
                ),
            )
        self._words.put(user.id, user.username, user.display_name)

    def update(self, user: User) -> None:
        self._db.execute(
            "UPDATE users SET display_name = ?, display_name_lower = ?, confirmed = ?,"
            " avatar_id = ? WHERE id = ?",
            (
                user.display_name,
                user.display_name.lower(),
                int(user.confirmed),
                user.avatar_id,
                user.id,
            ),
        )
        self._words.put(user.id, user.username, user.display_name)

    def set_last_seen(self, user_id: str, at: datetime) -> None:
        self._db.execute(
            "UPDATE users SET last_seen_at = ?"
            " WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)",
            (_ts(at), user_id, _ts(at)),
        )

    def delete(self, user_id: str) -> None:
        self._db.execute("DELETE FROM users WHERE id = ?", (user_id,))
        self._words.forget(user_id)

    def search(self, prefix: str, *, exclude_id: str, limit: int) -> list[User]:
        upper = prefix + "\U0010ffff"
        terms = search.words(prefix)
        if len(terms) == 1:  # one word: off the username and name-word indexes (B10)
            ids = self._words.first(terms[0], exclude_id=exclude_id, limit=limit)
            if ids is not None:
                rows = self._all(
                    "SELECT * FROM users WHERE confirmed = 1 AND id != ?"
                    " AND username >= ? AND username < ? ORDER BY username LIMIT ?",
                    exclude_id,
                    prefix,
                    upper,
                    limit,
                )
                return _first_users(rows, ids, self.get_many, limit)
        # Usernames by their range in the unique index, display names by their words
        # in the FTS5 index (migration 5).
        by_name = (
            "OR id IN (SELECT d.user_id FROM user_search s"
            " JOIN user_search_docs d ON d.docid = s.rowid WHERE user_search MATCH ?)"
            if terms
            else ""
        )
        rows = self._all(
            "SELECT * FROM users WHERE confirmed = 1 AND id != ? AND "
            f"((username >= ? AND username < ?) {by_name}) "
            "ORDER BY username LIMIT ?",
            exclude_id,
            prefix,
            upper,
            *([search.fts5_query(terms)] if terms else []),
            limit,
        )
        return [_user(row) for row in rows]


def _first_users(
    rows: Sequence[Any],
    ids: list[str],
    get_many: Callable[[Sequence[str]], dict[str, User]],
    limit: int,
) -> list[User]:
    """The first `limit` by username of the users in `rows` and those of `ids`."""
    users = {row["id"]: _user(row) for row in rows}
    users.update(get_many([i for i in ids if i not in users]))
    return sorted(users.values(), key=lambda u: u.username)[:limit]


class _Conversations(_Repo):
    def get(self, conversation_id: str) -> Conversation | None:
        row = self._one("SELECT * FROM conversations WHERE id = ?", conversation_id)
        return _conversation(row) if row else None

    def get_many(self, conversation_ids: Sequence[str]) -> dict[str, Conversation]:
        ids = list(dict.fromkeys(conversation_ids))
        if not ids:
            return {}
        marks = ", ".join(["?"] * len(ids))
        rows = self._all(f"SELECT * FROM conversations WHERE id IN ({marks})", *ids)
        return {row["id"]: _conversation(row) for row in rows}

    def by_direct_key(self, key: str) -> Conversation | None:
        row = self._one("SELECT * FROM conversations WHERE direct_key = ?", key)
        return _conversation(row) if row else None

    def lock(self, conversation_id: str) -> Conversation | None:
        # The single writer connection runs one transaction at a time: already current.
        return self.get(conversation_id)

    def insert(self, conversation: Conversation) -> None:
        with _lost_race("That direct conversation already exists."):
            self._db.execute(
                "INSERT INTO conversations (id, kind, title, created_by, created_at,"
                " updated_at, last_seq, direct_key, last_event_seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation.id,
                    conversation.kind.value,
                    conversation.title,
                    conversation.created_by,
                    _ts(conversation.created_at),
                    _ts(conversation.updated_at),
                    conversation.last_seq,
                    conversation.direct_key,
                    conversation.last_event_seq,
                ),
            )

    def next_seq(self, conversation_id: str, at: datetime) -> int | None:
        row = self._one(
            "UPDATE conversations SET last_seq = last_seq + 1, updated_at = max(updated_at, ?) "
            "WHERE id = ? RETURNING last_seq",
            _ts(at),
            conversation_id,
        )
        return int(row[0]) if row else None

    def set_title(self, conversation_id: str, title: str, at: datetime) -> Conversation | None:
        row = self._one(
            "UPDATE conversations SET title = ?, updated_at = max(updated_at, ?) "
            "WHERE id = ? RETURNING *",
            title,
            _ts(at),
            conversation_id,
        )
        return _conversation(row) if row else None

    def touch(self, conversation_id: str, at: datetime) -> None:
        self._db.execute(
            "UPDATE conversations SET updated_at = ? WHERE id = ? AND updated_at < ?",
            (_ts(at), conversation_id, _ts(at)),
        )

    def delete(self, conversation_id: str) -> None:
        tables = ("message_reactions", "messages", "members", "conversation_events")
        for table in (*tables, "conversation_receipts", "attachments"):
            self._db.execute(f"DELETE FROM {table} WHERE conversation_id = ?", (conversation_id,))
        self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def for_user(
        self, user_id: str, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Conversation]:
        if after is None:
            rows = self._all(
                "SELECT c.* FROM members m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE m.user_id = ? ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
                user_id,
                limit,
            )
        else:
            rows = self._all(
                "SELECT c.* FROM members m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE m.user_id = ? AND (c.updated_at, c.id) < (?, ?) "
                "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
                user_id,
                _ts(after[0]),
                after[1],
                limit,
            )
        return [_conversation(row) for row in rows]


class _Members(_Repo):
    def get(self, conversation_id: str, user_id: str) -> Membership | None:
        row = self._one(
            "SELECT * FROM members WHERE conversation_id = ? AND user_id = ?",
            conversation_id,
            user_id,
        )
        return _membership(row) if row else None

    def of_conversation(self, conversation_id: str) -> list[Membership]:
        rows = self._all(
            "SELECT * FROM members WHERE conversation_id = ? ORDER BY joined_at, user_id",
            conversation_id,
        )
        return [_membership(row) for row in rows]

    def of_conversations(self, conversation_ids: Sequence[str]) -> dict[str, list[Membership]]:
        ids = list(dict.fromkeys(conversation_ids))
        if not ids:
            return {}
        marks = ", ".join(["?"] * len(ids))
        rows = self._all(
            f"SELECT * FROM members WHERE conversation_id IN ({marks})"
            " ORDER BY conversation_id, joined_at, user_id",
            *ids,
        )
        found: dict[str, list[Membership]] = {}
        for row in rows:
            found.setdefault(row["conversation_id"], []).append(_membership(row))
        return found

    def ids_of(self, conversation_id: str) -> list[str]:
        cursor = self._db.execute(
            "SELECT user_id FROM members WHERE conversation_id = ?", (conversation_id,)
        )
        cursor.row_factory = None  # plain tuples: no Row object per member
        return [row[0] for row in cursor]

    def put(self, membership: Membership) -> None:
        with _lost_race("Already a member."):
            self._db.execute(
                "INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq,"
                " joined_event_seq) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    membership.conversation_id,
                    membership.user_id,
                    membership.role.value,
                    _ts(membership.joined_at),
                    membership.read_seq,
                    membership.joined_event_seq,
                ),
            )

    def set_role(self, conversation_id: str, user_id: str, role: Role) -> bool:
        changed = self._db.execute(
            "UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?",
            (role.value, conversation_id, user_id),
        ).rowcount
        return changed > 0

    def advance_read(self, conversation_id: str, user_id: str, seq: int) -> bool | None:
        moved = self._db.execute(
            "UPDATE members SET read_seq = ? "
            "WHERE conversation_id = ? AND user_id = ? AND read_seq < ?",
            (seq, conversation_id, user_id, seq),
        ).rowcount
        if moved:
            return True
        member = self._one(
            "SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?",
            conversation_id,
            user_id,
        )
        return False if member else None

    def set_mute(self, conversation_id: str, user_id: str, until: datetime | None) -> bool:
        changed = self._db.execute(
            "UPDATE members SET muted_until = ? WHERE conversation_id = ? AND user_id = ?",
            (_ts(until) if until is not None else None, conversation_id, user_id),
        ).rowcount
        return changed > 0

    def remove(self, conversation_id: str, user_id: str) -> None:
        self._db.execute(
            "DELETE FROM members WHERE conversation_id = ? AND user_id = ?",
            (conversation_id, user_id),
        )

    def share_conversation(self, user_id: str, other_id: str) -> bool:
        row = self._one(
            "SELECT 1 FROM members mine JOIN members other"
            " ON other.conversation_id = mine.conversation_id AND other.user_id = ?"
            " WHERE mine.user_id = ? LIMIT 1",
            other_id,
            user_id,
        )
        return row is not None

    def contacts_of(self, user_id: str) -> set[str]:
        rows = self._all(
            "SELECT DISTINCT other.user_id FROM members mine "
            "JOIN members other ON other.conversation_id = mine.conversation_id "
            "WHERE mine.user_id = ? AND other.user_id != ?",
            user_id,
            user_id,
        )
        return {row[0] for row in rows}


class _Messages(_Repo):
    def get(self, conversation_id: str, message_id: str) -> Message | None:
        row = self._one(
            "SELECT * FROM messages WHERE id = ? AND conversation_id = ?",
            message_id,
            conversation_id,
        )
        return _message(row) if row else None

    def by_seq(self, conversation_id: str, seq: int) -> Message | None:
        row = self._one(
            "SELECT * FROM messages WHERE conversation_id = ? AND seq = ?", conversation_id, seq
        )
        return _message(row) if row else None

    def by_seqs(self, positions: Sequence[tuple[str, int]]) -> list[Message]:
        return self._keyed("seq", positions)

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[Message]:
        return self._keyed("id", keys)

    def _keyed(self, column: str, keys: Sequence[tuple[str, object]]) -> list[Message]:
        """Messages by (conversation_id, `column`) pairs, in one statement."""
        pairs = sql_keys.distinct_pairs(keys)
        if not pairs:
            return []
        where = sql_keys.pairs_matching(column, len(pairs), mark="?")
        rows = self._all("SELECT * FROM messages WHERE " + where, *sql_keys.flattened(pairs))
        return [_message(row) for row in rows]

    def by_client_id(self, sender_id: str, client_message_id: str) -> Message | None:
        row = self._one(
            "SELECT * FROM messages WHERE sender_id = ? AND client_message_id = ?",
            sender_id,
            client_message_id,
        )
        return _message(row) if row else None

    def insert(self, message: Message) -> None:
        with _lost_race("Duplicate message."):
            self._db.execute(
                "INSERT INTO messages (conversation_id, seq, id, sender_id, client_message_id,"
                " body, created_at, edited_at, deleted, attachments, reply_to_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message.conversation_id,
                    message.seq,
                    message.id,
                    message.sender_id,
                    message.client_message_id,
                    message.body,
                    _ts(message.created_at),
                    _ts(message.edited_at) if message.edited_at else None,
                    int(message.deleted),
                    sql_attachments.encode(message.attachments),
                    message.reply_to_id,
                ),
            )

    def edit(self, conversation_id: str, message_id: str, body: str, at: datetime) -> bool:
        changed = self._db.execute(
            "UPDATE messages SET body = ?, edited_at = ? "
            "WHERE id = ? AND conversation_id = ? AND deleted = 0",
            (body, _ts(at), message_id, conversation_id),
        ).rowcount
        return changed > 0

    def mark_deleted(self, conversation_id: str, message_id: str, at: datetime) -> bool:
        changed = self._db.execute(
            "UPDATE messages SET body = '', deleted = 1, edited_at = ?, attachments = '[]' "
            "WHERE id = ? AND conversation_id = ? AND deleted = 0",
            (_ts(at), message_id, conversation_id),
        ).rowcount
        return changed > 0

    def page(
        self, conversation_id: str, *, before: int | None, after: int | None, limit: int
    ) -> list[Message]:
        if after is not None:
            rows = self._all(
                "SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                conversation_id,
                after,
                limit,
            )
            return [_message(row) for row in rows]
        rows = self._all(
            "SELECT * FROM messages WHERE conversation_id = ? AND seq < ? "
            "ORDER BY seq DESC LIMIT ?",
            conversation_id,
            before if before is not None else 2**62,
            limit,
        )
        return [_message(row) for row in reversed(rows)]

    def search(
        self,
        user_id: str,
        terms: Sequence[str],
        *,
        conversation_id: str | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Message]:
        # Newest first by document id, i.e. in the order the messages were sent (which
        # is (created_at, id) order while the clock runs forward): FTS5 hands matches
        # over in that order, so a page costs what it holds, not every match's sort.
        # A cursor's message is found by its id; one since gone entirely (its
        # conversation deleted) falls back on its time alone.
        where, args = "", list[Any]()
        if conversation_id is not None:
            where += " AND m.conversation_id = ?"
            args.append(conversation_id)
        if before is not None:
            where += (
                " AND s.rowid < coalesce((SELECT d2.docid FROM messages m2"
                " JOIN message_search_docs d2 ON d2.conversation_id = m2.conversation_id"
                " AND d2.seq = m2.seq WHERE m2.id = ?), 1 << 62)"
                " AND (m.created_at, m.id) < (?, ?)"
            )
            args += [before[1], _ts(before[0]), before[1]]
        rows = self._all(
            "SELECT m.* FROM message_search s"
            " JOIN message_search_docs d ON d.docid = s.rowid"
            " JOIN messages m ON m.conversation_id = d.conversation_id AND m.seq = d.seq"
            " JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?"
            f" WHERE message_search MATCH ? AND m.deleted = 0{where}"
            " ORDER BY s.rowid DESC LIMIT ?",
            user_id,
            search.fts5_query(list(terms)),
            *args,
            limit,
        )
        return [_message(row) for row in rows]


class _Statements(_Repo):
    """How `sql_sync` runs its statements here: `?` placeholders, text timestamps."""

    writable_ctes = False

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        return self._one(sql.replace("%s", "?"), *args)

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self._all(sql.replace("%s", "?"), *args)

    def run(self, sql: str, *args: Any) -> int:
        return self._db.execute(sql.replace("%s", "?"), args).rowcount

    def stamp(self, moment: datetime) -> str:
        return _ts(moment)

    def moment(self, stored: Any) -> datetime:
        return _dt(str(stored))


class _Credentials(_Repo):
    def get(self, user_id: str) -> Credential | None:
        row = self._one("SELECT * FROM credentials WHERE user_id = ?", user_id)
        return _credential(row) if row else None

    def by_login(self, login: str) -> Credential | None:
        needle = login.lower()
        row = self._one("SELECT * FROM credentials WHERE username = ? OR email = ?", needle, needle)
        return _credential(row) if row else None

    def put(self, credential: Credential) -> None:
        with _unique("That username or email is already registered."):
            self._db.execute(
                # An upsert on the user only: a username or email held by another
                # account is a conflict, never a silent replacement of that account.
                "INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET username = excluded.username,"
                " email = excluded.email, password_hash = excluded.password_hash,"
                " confirmed = excluded.confirmed, code_hash = excluded.code_hash,"
                " code_expires_at = excluded.code_expires_at",
                (
                    credential.user_id,
                    credential.username,
                    credential.email,
                    credential.password_hash,
                    int(credential.confirmed),
                    credential.confirmation_code_hash,
                    _ts(credential.code_expires_at) if credential.code_expires_at else None,
                ),
            )

    def delete(self, user_id: str) -> None:
        self._db.execute("DELETE FROM credentials WHERE user_id = ?", (user_id,))

    def replace_code(
        self, user_id: str, code_hash: str, expires_at: datetime, *, confirmed: bool
    ) -> bool:
        return self._changed(
            "UPDATE credentials SET code_hash = ?, code_expires_at = ?"
            " WHERE user_id = ? AND confirmed = ?",
            code_hash,
            _ts(expires_at),
            user_id,
            int(confirmed),
        )

    def confirm(self, user_id: str, code_hash: str) -> bool:
        return self._changed(
            "UPDATE credentials SET confirmed = 1, code_hash = NULL"
            " WHERE user_id = ? AND confirmed = 0 AND code_hash = ?",
            user_id,
            code_hash,
        )

    def set_password(self, user_id: str, password_hash: str, *, code_hash: str) -> bool:
        return self._changed(
            "UPDATE credentials SET password_hash = ?, code_hash = NULL, code_expires_at = NULL"
            " WHERE user_id = ? AND confirmed = 1 AND code_hash = ?",
            password_hash,
            user_id,
            code_hash,
        )

    def delete_unconfirmed(self, user_id: str) -> bool:
        return self._changed("DELETE FROM credentials WHERE user_id = ? AND confirmed = 0", user_id)

    def _changed(self, sql: str, *args: Any) -> bool:
        return self._db.execute(sql, args).rowcount == 1

    def get_refresh(self, token_hash: str) -> RefreshToken | None:
        row = self._one("SELECT * FROM refresh_tokens WHERE token_hash = ?", token_hash)
        if row is None:
            return None
        return RefreshToken(
            token_hash=row["token_hash"],
            user_id=row["user_id"],
            family_id=row["family_id"],
            expires_at=_dt(row["expires_at"]),
            used_at=_used_at(row),
        )

    def add_refresh(self, token: RefreshToken, *, after: str | None = None) -> bool:
        # One statement: the predecessor's row is checked where the insert happens.
        added = self._db.execute(
            "INSERT INTO refresh_tokens"
            " (token_hash, user_id, family_id, expires_at, used, used_at)"
            " SELECT ?, ?, ?, ?, 0, NULL"
            " WHERE ? IS NULL OR EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ?)"
            " ON CONFLICT (token_hash) DO NOTHING",
            (
                token.token_hash,
                token.user_id,
                token.family_id,
                _ts(token.expires_at),
                after,
                after,
            ),
        )
        return added.rowcount == 1

    def claim_refresh(self, token_hash: str, now: datetime) -> bool:
        claimed = self._db.execute(
            "UPDATE refresh_tokens SET used = 1, used_at = ? WHERE token_hash = ? AND used = 0",
            (_ts(now), token_hash),
        )
        return claimed.rowcount == 1

    def revoke_family(self, family_id: str) -> None:
        self._db.execute("DELETE FROM refresh_tokens WHERE family_id = ?", (family_id,))

    def revoke_user(self, user_id: str) -> None:
        self._db.execute("DELETE FROM refresh_tokens WHERE user_id = ?", (user_id,))

    def families_of(self, user_id: str) -> set[str]:
        rows = self._all("SELECT DISTINCT family_id FROM refresh_tokens WHERE user_id = ?", user_id)
        return {row[0] for row in rows}


# Sessions: ended sessions, and when each refresh token was rotated.

# Rows written before `used_at` existed say only `used = 1`: rotated long ago.
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def _used_at(row: sqlite3.Row) -> datetime | None:
    if row["used_at"]:
        return _dt(row["used_at"])
    return _LONG_AGO if row["used"] else None


class _EndedSessions(_Repo):
    def end(self, session_id: str, until: datetime) -> None:
        self._db.execute(
            "INSERT INTO ended_sessions VALUES (?, ?) ON CONFLICT (session_id)"
            " DO UPDATE SET until = max(until, excluded.until)",
            (session_id, _ts(until)),
        )

    def live(self, now: datetime) -> dict[str, datetime]:
        rows = self._all("SELECT session_id, until FROM ended_sessions WHERE until > ?", _ts(now))
        return {row[0]: _dt(row[1]) for row in rows}

    def forget_before(self, now: datetime) -> None:
        self._db.execute("DELETE FROM ended_sessions WHERE until <= ?", (_ts(now),))


class _Blocks(_Repo):
    def add(self, block: Block) -> bool:
        cursor = self._db.execute(
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
            (block.blocker_id, block.blocked_id, _ts(block.created_at)),
        )
        return cursor.rowcount == 1

    def remove(self, blocker_id: str, blocked_id: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?", (blocker_id, blocked_id)
        )
        return cursor.rowcount == 1

    def of_blocker(self, blocker_id: str) -> list[Block]:
        rows = self._all(
            "SELECT * FROM blocks WHERE blocker_id = ? ORDER BY created_at DESC, blocked_id",
            blocker_id,
        )
        return [Block(r["blocker_id"], r["blocked_id"], _dt(r["created_at"])) for r in rows]

    def between(self, user_a: str, user_b: str) -> set[str]:
        rows = self._all(
            "SELECT blocker_id FROM blocks WHERE (blocker_id = ? AND blocked_id = ?)"
            " OR (blocker_id = ? AND blocked_id = ?)",
            user_a,
            user_b,
            user_b,
            user_a,
        )
        return {row[0] for row in rows}

    def involving(self, user_id: str) -> set[str]:
        rows = self._all(
            "SELECT blocked_id FROM blocks WHERE blocker_id = ?"
            " UNION SELECT blocker_id FROM blocks WHERE blocked_id = ?",
            user_id,
            user_id,
        )
        return {row[0] for row in rows}


class SqliteTransaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.users = _Users(db)
        self.conversations = _Conversations(db)
        self.members = _Members(db)
        self.messages = _Messages(db)
        self.attachments = SqlAttachments(_Statements(db))
        self.reactions = SqlReactions(_Statements(db))
        self.log = SqlLog(_Statements(db))
        self.sync = SqlSync(_Statements(db))
        self.credentials = _Credentials(db)
        self.sessions = _EndedSessions(db)
        self.blocks = _Blocks(db)


@dataclass(slots=True)
class _Job:
    work: Callable[[SqliteTransaction], Any]
    on_commit: Callable[[Any], None] | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _connect(path: Path, synchronous: str, *, read_only: bool) -> sqlite3.Connection:
    # Every statement stays prepared: the app has more distinct ones than the default
    # cache (128) holds, and a send that re-prepares one pays for parsing it again.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=512)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute(f"PRAGMA synchronous = {synchronous}")
    db.execute("PRAGMA foreign_keys = OFF")
    # Deleted and edited-away text is overwritten on disk, not left in free pages.
    db.execute("PRAGMA secure_delete = ON")
    if read_only:
        db.execute("PRAGMA query_only = 1")
    return db


def _purge_deleted_words(db: sqlite3.Connection) -> None:
    """Makes the search indexes remove a deleted or edited-away message's words at once,
    where the SQLite library has FTS5's `secure-delete` (3.42 and later). Without it the
    words stay in the index's older segments until its merges reach them (SECURITY.md,
    known limitations). Once set, SQLite before 3.42 cannot write these tables."""
    for table in ("message_search", "user_search"):
        with contextlib.suppress(sqlite3.Error):
            db.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('secure-delete', 1)")


class SqliteStore:
    """A `Store` in one SQLite file. `synchronous` is FULL by default: an ack means
    the message survives a power cut, not just a crash."""

    # One writer thread takes the queue in order (group commit keeps it).
    commits_in_call_order = True

    def __init__(self, path: Path, *, synchronous: str = "FULL", readers: int = 2) -> None:
        if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError("synchronous must be FULL, NORMAL or EXTRA")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # messages: owner only
        self._writer_db = _connect(path, synchronous.upper(), read_only=False)
        try:
            use_wal(self._writer_db)
            # The schema is brought up to date before anything reads it (sqlite_schema).
            migrate(self._writer_db)
            _purge_deleted_words(self._writer_db)
        except BaseException:
            self._writer_db.close()
            raise
        self._path = path
        self._synchronous = synchronous.upper()
        # Lists of jobs in call order (see `write`); None stops the writer.
        self._jobs: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer", daemon=True)
        self._writer.start()
        self._local = threading.local()
        self._reader_dbs: list[sqlite3.Connection] = []
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sqlite-reader")
        self._closed = False

    async def read(self, work: Callable[[SqliteTransaction], T], *, quick: bool = False) -> T:
        if quick:
            # On the event loop's thread, with a read connection of its own: a WAL
            # reader never waits for the writer.
            return self._read(work)
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._read, work)

    async def write(
        self,
        work: Callable[[SqliteTransaction], T],
        on_commit: Callable[[T], None] | None = None,
    ) -> T:
        if self._closed:
            raise RuntimeError("store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        # Jobs asked for in one turn of the event loop reach the writer together, after
        # that turn: one batch, one COMMIT, one fsync. Handed over one by one, the
        # first would wake the writer, which would commit it alone while the loop was
        # still queueing the others (a closed-loop sender is woken by its ack, so the
        # ones acked by one commit all ask again in one turn).
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._hand_over, loop)
        pending.append(_Job(work, on_commit, loop, future))
        # The job commits and runs on_commit even if this caller is cancelled.
        return await asyncio.shield(future)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._pending.pop(loop, None)
        if jobs:
            self._jobs.put(jobs)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for loop in list(self._pending):
            self._hand_over(loop)  # asked for before the close: they still commit
        self._jobs.put(None)
        await asyncio.to_thread(self._writer.join)
        self._readers.shutdown(wait=True)
        for db in self._reader_dbs:
            db.close()
        self._writer_db.close()

    def _read(self, work: Callable[[SqliteTransaction], T]) -> T:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = _connect(self._path, self._synchronous, read_only=True)
            self._local.db = db
            self._reader_dbs.append(db)
        db.execute("BEGIN")
        try:
            return work(SqliteTransaction(db))
        finally:
            db.execute("COMMIT")

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                return
            batch = first
            while len(batch) < MAX_BATCH:
                try:
                    jobs = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if jobs is None:
                    stopping = True
                    break
                batch += jobs
            self._run_batch(batch)

    def _run_batch(self, batch: list[_Job]) -> None:
        db = self._writer_db
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            tx = SqliteTransaction(db)
            for job in batch:
                db.execute("SAVEPOINT job")
                outcomes.append(_attempt(db, tx, job.work))
                db.execute("RELEASE job")
            db.execute("COMMIT")
        except sqlite3.Error as batch_failure:
            if db.in_transaction:
                db.execute("ROLLBACK")
            outcomes = [(None, batch_failure) for _ in batch]
        settled = list(zip(batch, outcomes, strict=True))
        # One wake-up per loop per batch, not per transaction: each costs a syscall.
        for loop in dict.fromkeys(job.loop for job in batch):
            mine = [entry for entry in settled if entry[0].loop is loop]
            loop.call_soon_threadsafe(_settle, mine)


def _attempt(
    db: sqlite3.Connection, tx: SqliteTransaction, work: Callable[[SqliteTransaction], Any]
) -> tuple[Any, BaseException | None]:
    """Runs one transaction function inside the open SAVEPOINT `job`. One that raises is
    undone alone (ROLLBACK TO keeps the savepoint open); one that lost a race is run
    again from there, as the store contract allows, up to `WRITE_ATTEMPTS` times."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            return work(tx), None
        except LostRace as lost:
            db.execute("ROLLBACK TO job")
            if attempt == WRITE_ATTEMPTS:
                gave_up = Conflict(lost.message)
                gave_up.__cause__ = lost
                return None, gave_up
        except Exception as failure:
            db.execute("ROLLBACK TO job")
            return None, failure
    raise AssertionError("unreachable")


def _settle(settled: list[tuple[_Job, tuple[Any, BaseException | None]]]) -> None:
    """Runs on the jobs' event loop, in commit order."""
    for job, (result, error) in settled:
        if error is None and job.on_commit is not None:
            try:
                job.on_commit(result)
            except Exception:
                # Publishing is best effort (clients resync); the commit stands and
                # the other callers in this batch must still hear back.
                log.exception("after-commit callback failed")
        if job.future.done():
            continue
        if error is None:
            job.future.set_result(result)
        else:
            job.future.set_exception(error)
