"""The PostgreSQL store: one database shared by every process of a deployment.

Threads, not an async driver. A transaction function is synchronous and pure (the
`Store` contract): its repository calls are plain method calls that must each run a
statement and return rows. So each transaction runs whole in a worker thread, on a
connection of its own from a `psycopg_pool.ConnectionPool`, via a bounded executor
with as many threads as the pool has connections (no thread ever waits for a
connection, and at most that many transactions are in flight per process; the rest
queue on the executor). An async driver would need every repository method, and so
every transaction function, to become async: the contract would change for every
adapter, for nothing, since the thread hop costs far less than the round trips.

Transactions run at READ COMMITTED, as the contract describes: plain reads may be
stale, writes are narrow and conditional, `lock` is `SELECT ... FOR UPDATE`. Inserts
under a unique key are `ON CONFLICT DO NOTHING`, and finding a row there is `LostRace`
(the transaction stays usable; the store re-runs the function, which then finds the
winner's row). A serialization failure or a deadlock (SQLSTATE 40001, 40P01) is re-run
too; after `WRITE_ATTEMPTS` runs the store gives up with `Conflict`.

Commit order: `on_commit` results are handed to the caller's event loop in the order
the transactions took a ticket (`commit_order.CommitOrder`), just before their COMMIT, even if the
caller was cancelled meanwhile. A transaction that waited for another's row (or key,
or advisory lock) can only take its ticket after that one's COMMIT, so whenever the
order of two commits matters it is their ticket order. The COMMITs themselves run in
parallel, so PostgreSQL flushes them together (one lock held around each COMMIT made
every commit wait for the previous one's fsync: ~1/fsync commits per second). (Other
processes learn of commits through the event log, not these callbacks.)

Refresh rotation against revocation: `claim_refresh` and `revoke_family` both take a
transaction-scoped advisory lock keyed by the token family, so a revocation waits for a
rotation in flight (and then deletes its successor too) or the rotation waits for the
revocation (and then finds its token gone).

The sync log has no deployment-wide lock or counter: an entry's position is taken by
incrementing its conversation's `last_event_seq` (or its receipt counter), which locks
that row until COMMIT, so a conversation's entries commit in the order of their
positions (`ConversationLog`). Writers of different conversations never wait on each
other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from hubbub.adapters import sql_attachments, sql_keys
from hubbub.adapters.commit_order import CommitOrder, settle
from hubbub.adapters.postgres_schema import require_current
from hubbub.adapters.sql_attachments import SqlAttachments
from hubbub.adapters.sql_name_words import SqlNameWords
from hubbub.adapters.sql_reactions import SqlReactions
from hubbub.adapters.sql_sync import SqlLog, SqlSync
from hubbub.domain import search
from hubbub.domain.errors import Conflict, ValidationFailed
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
Row = dict[str, Any]
Db = psycopg.Connection[Row]
log = logging.getLogger("hubbub.postgres")

# pg_advisory_xact_lock key space of the family locks: the two-int4 form with this
# class id and a hash of the family.
FAMILY_LOCK_CLASS = 0x68756263
# A re-run after a serialization failure or a deadlock.
_RETRY = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)


def _family_key(family_id: str) -> int:
    """The family's advisory lock key: a stable signed 32-bit hash (collisions only
    make two families take turns)."""
    return zlib.crc32(family_id.encode()) - 2**31


def _user(row: Row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        display_name=row["display_name"],
        created_at=row["created_at"],
        confirmed=row["confirmed"],
        last_seen_at=row["last_seen_at"],
        avatar_id=row["avatar_id"],
    )


def _conversation(row: Row) -> Conversation:
    return Conversation(
        id=row["id"],
        kind=ConversationKind(row["kind"]),
        title=row["title"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_seq=row["last_seq"],
        direct_key=row["direct_key"],
        last_event_seq=row["last_event_seq"],
    )


def _membership(row: Row) -> Membership:
    return Membership(
        conversation_id=row["conversation_id"],
        user_id=row["user_id"],
        role=Role(row["role"]),
        joined_at=row["joined_at"],
        read_seq=row["read_seq"],
        joined_event_seq=row["joined_event_seq"],
        muted_until=row["muted_until"],
    )


def _message(row: Row) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        sender_id=row["sender_id"],
        body=row["body"],
        client_message_id=row["client_message_id"],
        created_at=row["created_at"],
        edited_at=row["edited_at"],
        deleted=row["deleted"],
        attachments=sql_attachments.decode(row["attachments"]),
        reply_to_id=row["reply_to_id"],
    )


def _credential(row: Row) -> Credential:
    return Credential(
        user_id=row["user_id"],
        username=row["username"],
        email=row["email"],
        password_hash=row["password_hash"],
        confirmed=row["confirmed"],
        confirmation_code_hash=row["code_hash"],
        code_expires_at=row["code_expires_at"],
    )


def _holds_nul(args: tuple[Any, ...]) -> bool:
    """Whether a text argument holds U+0000, which PostgreSQL's text cannot."""
    for arg in args:
        if isinstance(arg, str) and "\x00" in arg:
            return True
        if isinstance(arg, list) and any(isinstance(a, str) and "\x00" in a for a in arg):
            return True
    return False


class _Repo:
    """Runs statements. A lookup by text holding U+0000 (an id from a URL, a login, a
    search prefix) matches nothing, as on SQLite, since no stored text holds it; text
    to be stored never holds it (the domain rules refuse it), and a write that would
    store it anyway is refused as invalid rather than failing the request."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def _one(self, sql: str, *args: Any) -> Row | None:
        if _holds_nul(args):
            return self._without_nul(sql, None)
        return self._db.execute(sql.encode(), args).fetchone()

    def _all(self, sql: str, *args: Any) -> list[Row]:
        if _holds_nul(args):
            return self._without_nul(sql, [])
        return self._db.execute(sql.encode(), args).fetchall()

    def _count(self, sql: str, *args: Any) -> int:
        if _holds_nul(args):
            return self._without_nul(sql, 0)
        return self._db.execute(sql.encode(), args).rowcount

    @staticmethod
    def _without_nul(sql: str, nothing: T) -> T:
        if sql.startswith("SELECT"):
            return nothing
        raise ValidationFailed("Text must not contain U+0000 (NUL).")


class _Users(_Repo):
    def __init__(self, db: Db) -> None:
        super().__init__(db)
        self._words = SqlNameWords(_Statements(db))

    def get(self, user_id: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE id = %s", user_id)
        return _user(row) if row else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, User]:
        if not user_ids:
            return {}
        rows = self._all("SELECT * FROM users WHERE id = ANY(%s)", list(user_ids))
        return {row["id"]: _user(row) for row in rows}

    def by_username(self, username: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE username = %s", username.lower())
        return _user(row) if row else None

    def by_email(self, email: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE email = %s", email.lower())
        return _user(row) if row else None

    def insert(self, user: User) -> None:
        added = self._count(
            "INSERT INTO users (id, username, email, display_name, display_name_lower,"
            " created_at, confirmed, avatar_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            user.id,
            user.username,
            user.email,
            user.display_name,
            user.display_name.lower(),
            user.created_at,
            user.confirmed,
            user.avatar_id,
        )
        if added != 1:
            raise Conflict("That username or email is already registered.")
        self._words.put(user.id, user.username, user.display_name)

    def update(self, user: User) -> None:
        self._count(
            "UPDATE users SET display_name = %s, display_name_lower = %s, confirmed = %s,"
            " avatar_id = %s WHERE id = %s",
            user.display_name,
            user.display_name.lower(),
            user.confirmed,
            user.avatar_id,
            user.id,
        )
        self._words.put(user.id, user.username, user.display_name)

    def set_last_seen(self, user_id: str, at: datetime) -> None:
        self._count(
            "UPDATE users SET last_seen_at = %s"
            " WHERE id = %s AND (last_seen_at IS NULL OR last_seen_at < %s)",
            at,
            user_id,
            at,
        )

    def delete(self, user_id: str) -> None:
        self._count("DELETE FROM users WHERE id = %s", user_id)
        self._words.forget(user_id)

    def search(self, prefix: str, *, exclude_id: str, limit: int) -> list[User]:
        upper = prefix + "\U0010ffff"
        terms = search.words(prefix)
        if len(terms) == 1:  # one word: off the username and name-word indexes (B10)
            ids = self._words.first(terms[0], exclude_id=exclude_id, limit=limit)
            if ids is not None:
                rows = self._all(
                    "SELECT * FROM users WHERE confirmed AND id <> %s"
                    " AND username >= %s AND username < %s ORDER BY username LIMIT %s",
                    exclude_id,
                    prefix,
                    upper,
                    limit,
                )
                return _first_users(rows, ids, self.get_many, limit)
        # Usernames by their range in the unique index, display names by their words
        # in the GIN index (migration 3).
        by_name = (
            "OR to_tsvector('simple', lower(display_name COLLATE \"und-x-icu\"))"
            " @@ to_tsquery('simple', %s)"
            if terms
            else ""
        )
        rows = self._all(
            "SELECT * FROM users WHERE confirmed AND id <> %s AND "
            f"((username >= %s AND username < %s) {by_name}) "
            "ORDER BY username LIMIT %s",
            exclude_id,
            prefix,
            upper,
            *([search.tsquery(terms)] if terms else []),
            limit,
        )
        return [_user(row) for row in rows]


def _first_users(
    rows: Sequence[Row],
    ids: list[str],
    get_many: Callable[[Sequence[str]], dict[str, User]],
    limit: int,
) -> list[User]:
    """The first `limit` by username of the users in `rows` and those of `ids`."""
    users = {row["id"]: _user(row) for row in rows}
    users.update(get_many([i for i in ids if i not in users]))
    return sorted(users.values(), key=lambda u: u.username)[:limit]


class _Conversations(_Repo):
    def __init__(self, db: Db, *, writing: bool) -> None:
        super().__init__(db)
        self._writing = writing

    def get(self, conversation_id: str) -> Conversation | None:
        row = self._one("SELECT * FROM conversations WHERE id = %s", conversation_id)
        return _conversation(row) if row else None

    def get_many(self, conversation_ids: Sequence[str]) -> dict[str, Conversation]:
        ids = list(dict.fromkeys(conversation_ids))
        if not ids:
            return {}
        marks = ", ".join(["%s"] * len(ids))
        rows = self._all(f"SELECT * FROM conversations WHERE id IN ({marks})", *ids)
        return {row["id"]: _conversation(row) for row in rows}

    def by_direct_key(self, key: str) -> Conversation | None:
        row = self._one("SELECT * FROM conversations WHERE direct_key = %s", key)
        return _conversation(row) if row else None

    def lock(self, conversation_id: str) -> Conversation | None:
        if not self._writing:  # a read runs in one snapshot: nothing to wait for
            return self.get(conversation_id)
        row = self._one("SELECT * FROM conversations WHERE id = %s FOR UPDATE", conversation_id)
        return _conversation(row) if row else None

    def insert(self, conversation: Conversation) -> None:
        added = self._count(
            "INSERT INTO conversations (id, kind, title, created_by, created_at, updated_at,"
            " last_seq, direct_key, last_event_seq)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            conversation.id,
            conversation.kind.value,
            conversation.title,
            conversation.created_by,
            conversation.created_at,
            conversation.updated_at,
            conversation.last_seq,
            conversation.direct_key,
            conversation.last_event_seq,
        )
        if added != 1:
            raise LostRace("That direct conversation already exists.")

    def next_seq(self, conversation_id: str, at: datetime) -> int | None:
        row = self._one(
            "UPDATE conversations SET last_seq = last_seq + 1,"
            " updated_at = GREATEST(updated_at, %s) WHERE id = %s RETURNING last_seq",
            at,
            conversation_id,
        )
        return int(row["last_seq"]) if row else None

    def set_title(self, conversation_id: str, title: str, at: datetime) -> Conversation | None:
        row = self._one(
            "UPDATE conversations SET title = %s, updated_at = GREATEST(updated_at, %s)"
            " WHERE id = %s RETURNING *",
            title,
            at,
            conversation_id,
        )
        return _conversation(row) if row else None

    def touch(self, conversation_id: str, at: datetime) -> None:
        self._count(
            "UPDATE conversations SET updated_at = %s WHERE id = %s AND updated_at < %s",
            at,
            conversation_id,
            at,
        )

    def delete(self, conversation_id: str) -> None:
        tables = ("message_reactions", "messages", "members", "conversation_events")
        for table in (*tables, "conversation_receipts", "attachments"):
            self._count(f"DELETE FROM {table} WHERE conversation_id = %s", conversation_id)
        self._count("DELETE FROM conversations WHERE id = %s", conversation_id)

    def for_user(
        self, user_id: str, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Conversation]:
        if after is None:
            rows = self._all(
                "SELECT c.* FROM members m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.user_id = %s ORDER BY c.updated_at DESC, c.id DESC LIMIT %s",
                user_id,
                limit,
            )
        else:
            rows = self._all(
                "SELECT c.* FROM members m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.user_id = %s AND (c.updated_at, c.id) < (%s, %s)"
                " ORDER BY c.updated_at DESC, c.id DESC LIMIT %s",
                user_id,
                after[0],
                after[1],
                limit,
            )
        return [_conversation(row) for row in rows]


class _Members(_Repo):
    def get(self, conversation_id: str, user_id: str) -> Membership | None:
        row = self._one(
            "SELECT * FROM members WHERE conversation_id = %s AND user_id = %s",
            conversation_id,
            user_id,
        )
        return _membership(row) if row else None

    def of_conversation(self, conversation_id: str) -> list[Membership]:
        rows = self._all(
            "SELECT * FROM members WHERE conversation_id = %s ORDER BY joined_at, user_id",
            conversation_id,
        )
        return [_membership(row) for row in rows]

    def of_conversations(self, conversation_ids: Sequence[str]) -> dict[str, list[Membership]]:
        ids = list(dict.fromkeys(conversation_ids))
        if not ids:
            return {}
        marks = ", ".join(["%s"] * len(ids))
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
        rows = self._all("SELECT user_id FROM members WHERE conversation_id = %s", conversation_id)
        return [row["user_id"] for row in rows]

    def put(self, membership: Membership) -> None:
        added = self._count(
            "INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq,"
            " joined_event_seq) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            membership.conversation_id,
            membership.user_id,
            membership.role.value,
            membership.joined_at,
            membership.read_seq,
            membership.joined_event_seq,
        )
        if added != 1:
            raise LostRace("Already a member.")

    def set_role(self, conversation_id: str, user_id: str, role: Role) -> bool:
        changed = self._count(
            "UPDATE members SET role = %s WHERE conversation_id = %s AND user_id = %s",
            role.value,
            conversation_id,
            user_id,
        )
        return changed > 0

    def advance_read(self, conversation_id: str, user_id: str, seq: int) -> bool | None:
        moved = self._count(
            "UPDATE members SET read_seq = %s"
            " WHERE conversation_id = %s AND user_id = %s AND read_seq < %s",
            seq,
            conversation_id,
            user_id,
            seq,
        )
        if moved:
            return True
        member = self._one(
            "SELECT 1 AS one FROM members WHERE conversation_id = %s AND user_id = %s",
            conversation_id,
            user_id,
        )
        return False if member else None

    def set_mute(self, conversation_id: str, user_id: str, until: datetime | None) -> bool:
        changed = self._count(
            "UPDATE members SET muted_until = %s WHERE conversation_id = %s AND user_id = %s",
            until,
            conversation_id,
            user_id,
        )
        return changed > 0

    def remove(self, conversation_id: str, user_id: str) -> None:
        self._count(
            "DELETE FROM members WHERE conversation_id = %s AND user_id = %s",
            conversation_id,
            user_id,
        )

    def share_conversation(self, user_id: str, other_id: str) -> bool:
        row = self._one(
            "SELECT 1 FROM members mine JOIN members other"
            " ON other.conversation_id = mine.conversation_id AND other.user_id = %s"
            " WHERE mine.user_id = %s LIMIT 1",
            other_id,
            user_id,
        )
        return row is not None

    def contacts_of(self, user_id: str) -> set[str]:
        rows = self._all(
            "SELECT DISTINCT other.user_id FROM members mine"
            " JOIN members other ON other.conversation_id = mine.conversation_id"
            " WHERE mine.user_id = %s AND other.user_id <> %s",
            user_id,
            user_id,
        )
        return {row["user_id"] for row in rows}


class _Messages(_Repo):
    def get(self, conversation_id: str, message_id: str) -> Message | None:
        row = self._one(
            "SELECT * FROM messages WHERE id = %s AND conversation_id = %s",
            message_id,
            conversation_id,
        )
        return _message(row) if row else None

    def by_seq(self, conversation_id: str, seq: int) -> Message | None:
        row = self._one(
            "SELECT * FROM messages WHERE conversation_id = %s AND seq = %s", conversation_id, seq
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
        where = sql_keys.pairs_matching(column, len(pairs))
        rows = self._all("SELECT * FROM messages WHERE " + where, *sql_keys.flattened(pairs))
        return [_message(row) for row in rows]

    def by_client_id(self, sender_id: str, client_message_id: str) -> Message | None:
        row = self._one(
            "SELECT * FROM messages WHERE sender_id = %s AND client_message_id = %s",
            sender_id,
            client_message_id,
        )
        return _message(row) if row else None

    def insert(self, message: Message) -> None:
        added = self._count(
            "INSERT INTO messages (conversation_id, seq, id, sender_id, client_message_id,"
            " body, created_at, edited_at, deleted, attachments, reply_to_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            message.conversation_id,
            message.seq,
            message.id,
            message.sender_id,
            message.client_message_id,
            message.body,
            message.created_at,
            message.edited_at,
            message.deleted,
            sql_attachments.encode(message.attachments),
            message.reply_to_id,
        )
        if added != 1:
            raise LostRace("Duplicate message.")

    def edit(self, conversation_id: str, message_id: str, body: str, at: datetime) -> bool:
        changed = self._count(
            "UPDATE messages SET body = %s, edited_at = %s"
            " WHERE id = %s AND conversation_id = %s AND NOT deleted",
            body,
            at,
            message_id,
            conversation_id,
        )
        return changed > 0

    def mark_deleted(self, conversation_id: str, message_id: str, at: datetime) -> bool:
        changed = self._count(
            "UPDATE messages SET body = '', deleted = TRUE, edited_at = %s, attachments = '[]'"
            " WHERE id = %s AND conversation_id = %s AND NOT deleted",
            at,
            message_id,
            conversation_id,
        )
        return changed > 0

    def page(
        self, conversation_id: str, *, before: int | None, after: int | None, limit: int
    ) -> list[Message]:
        if after is not None:
            rows = self._all(
                "SELECT * FROM messages WHERE conversation_id = %s AND seq > %s"
                " ORDER BY seq LIMIT %s",
                conversation_id,
                after,
                limit,
            )
            return [_message(row) for row in rows]
        rows = self._all(
            "SELECT * FROM messages WHERE conversation_id = %s AND seq < %s"
            " ORDER BY seq DESC LIMIT %s",
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
        where, args = "", list[Any]()
        if conversation_id is not None:
            where += " AND m.conversation_id = %s"
            args.append(conversation_id)
        if before is not None:
            where += " AND (m.created_at, m.id) < (%s, %s)"
            args += [before[0], before[1]]
        rows = self._all(
            "SELECT m.* FROM messages m"
            " JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = %s"
            # The expression of the index `messages_search` (migration 3), exactly.
            """ WHERE to_tsvector('simple', lower(m.body COLLATE "und-x-icu"))"""
            " @@ to_tsquery('simple', %s)"
            f" AND NOT m.deleted{where}"
            " ORDER BY m.created_at DESC, m.id DESC LIMIT %s",
            user_id,
            search.tsquery(list(terms)),
            *args,
            limit,
        )
        return [_message(row) for row in rows]


class _Statements(_Repo):
    """How `sql_sync` runs its statements here (timestamps are TIMESTAMPTZ)."""

    writable_ctes = True

    def one(self, sql: str, *args: Any) -> Row | None:
        return self._one(sql, *args)

    def all(self, sql: str, *args: Any) -> list[Row]:
        return self._all(sql, *args)

    def run(self, sql: str, *args: Any) -> int:
        return self._count(sql, *args)

    def stamp(self, moment: datetime) -> datetime:
        return moment

    def moment(self, stored: Any) -> datetime:
        assert isinstance(stored, datetime)
        return stored


class _Credentials(_Repo):
    def get(self, user_id: str) -> Credential | None:
        row = self._one("SELECT * FROM credentials WHERE user_id = %s", user_id)
        return _credential(row) if row else None

    def by_login(self, login: str) -> Credential | None:
        needle = login.lower()
        row = self._one(
            "SELECT * FROM credentials WHERE username = %s OR email = %s", needle, needle
        )
        return _credential(row) if row else None

    def put(self, credential: Credential) -> None:
        try:
            # A savepoint: a username or email held by another account is a conflict
            # the caller may answer, so the transaction must stay usable.
            with self._db.transaction():
                self._count(
                    # An upsert on the user only: a username or email held by another
                    # account is a conflict, never a silent replacement of that account.
                    "INSERT INTO credentials VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (user_id) DO UPDATE SET username = excluded.username,"
                    " email = excluded.email, password_hash = excluded.password_hash,"
                    " confirmed = excluded.confirmed, code_hash = excluded.code_hash,"
                    " code_expires_at = excluded.code_expires_at",
                    credential.user_id,
                    credential.username,
                    credential.email,
                    credential.password_hash,
                    credential.confirmed,
                    credential.confirmation_code_hash,
                    credential.code_expires_at,
                )
        except psycopg.errors.UniqueViolation as error:
            raise Conflict("That username or email is already registered.") from error

    def delete(self, user_id: str) -> None:
        self._count("DELETE FROM credentials WHERE user_id = %s", user_id)

    def replace_code(
        self, user_id: str, code_hash: str, expires_at: datetime, *, confirmed: bool
    ) -> bool:
        return (
            self._count(
                "UPDATE credentials SET code_hash = %s, code_expires_at = %s"
                " WHERE user_id = %s AND confirmed = %s",
                code_hash,
                expires_at,
                user_id,
                confirmed,
            )
            == 1
        )

    def confirm(self, user_id: str, code_hash: str) -> bool:
        return (
            self._count(
                "UPDATE credentials SET confirmed = TRUE, code_hash = NULL"
                " WHERE user_id = %s AND NOT confirmed AND code_hash = %s",
                user_id,
                code_hash,
            )
            == 1
        )

    def set_password(self, user_id: str, password_hash: str, *, code_hash: str) -> bool:
        return (
            self._count(
                "UPDATE credentials SET password_hash = %s, code_hash = NULL,"
                " code_expires_at = NULL"
                " WHERE user_id = %s AND confirmed AND code_hash = %s",
                password_hash,
                user_id,
                code_hash,
            )
            == 1
        )

    def delete_unconfirmed(self, user_id: str) -> bool:
        return (
            self._count("DELETE FROM credentials WHERE user_id = %s AND NOT confirmed", user_id)
            == 1
        )

    def get_refresh(self, token_hash: str) -> RefreshToken | None:
        row = self._one("SELECT * FROM refresh_tokens WHERE token_hash = %s", token_hash)
        if row is None:
            return None
        return RefreshToken(
            token_hash=row["token_hash"],
            user_id=row["user_id"],
            family_id=row["family_id"],
            expires_at=row["expires_at"],
            used_at=row["used_at"],
        )

    def add_refresh(self, token: RefreshToken, *, after: str | None = None) -> bool:
        # One statement: the predecessor's row is checked where the insert happens.
        return (
            self._count(
                "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, used_at)"
                " SELECT %s, %s, %s, %s, NULL"
                " WHERE %s::text IS NULL"
                " OR EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = %s)"
                " ON CONFLICT (token_hash) DO NOTHING",
                token.token_hash,
                token.user_id,
                token.family_id,
                token.expires_at,
                after,
                after,
            )
            == 1
        )

    def claim_refresh(self, token_hash: str, now: datetime) -> bool:
        row = self._one("SELECT family_id FROM refresh_tokens WHERE token_hash = %s", token_hash)
        if row is None:
            return False
        # Conflicts with a revocation of the family (module docstring).
        self._lock_family(row["family_id"])
        return (
            self._count(
                "UPDATE refresh_tokens SET used_at = %s WHERE token_hash = %s AND used_at IS NULL",
                now,
                token_hash,
            )
            == 1
        )

    def revoke_family(self, family_id: str) -> None:
        self._lock_family(family_id)
        self._count("DELETE FROM refresh_tokens WHERE family_id = %s", family_id)

    def revoke_user(self, user_id: str) -> None:
        for family_id in sorted(self.families_of(user_id)):
            self._lock_family(family_id)
        self._count("DELETE FROM refresh_tokens WHERE user_id = %s", user_id)

    def families_of(self, user_id: str) -> set[str]:
        rows = self._all(
            "SELECT DISTINCT family_id FROM refresh_tokens WHERE user_id = %s", user_id
        )
        return {row["family_id"] for row in rows}

    def _lock_family(self, family_id: str) -> None:
        self._one(
            "SELECT pg_advisory_xact_lock(%s, %s) AS locked",
            FAMILY_LOCK_CLASS,
            _family_key(family_id),
        )


class _EndedSessions(_Repo):
    def end(self, session_id: str, until: datetime) -> None:
        self._count(
            "INSERT INTO ended_sessions VALUES (%s, %s) ON CONFLICT (session_id)"
            " DO UPDATE SET until = GREATEST(ended_sessions.until, excluded.until)",
            session_id,
            until,
        )

    def live(self, now: datetime) -> dict[str, datetime]:
        rows = self._all("SELECT session_id, until FROM ended_sessions WHERE until > %s", now)
        return {row["session_id"]: row["until"] for row in rows}

    def forget_before(self, now: datetime) -> None:
        self._count("DELETE FROM ended_sessions WHERE until <= %s", now)


class _Blocks(_Repo):
    def add(self, block: Block) -> bool:
        return (
            self._count(
                "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
                block.blocker_id,
                block.blocked_id,
                block.created_at,
            )
            == 1
        )

    def remove(self, blocker_id: str, blocked_id: str) -> bool:
        return (
            self._count(
                "DELETE FROM blocks WHERE blocker_id = %s AND blocked_id = %s",
                blocker_id,
                blocked_id,
            )
            == 1
        )

    def of_blocker(self, blocker_id: str) -> list[Block]:
        rows = self._all(
            "SELECT * FROM blocks WHERE blocker_id = %s ORDER BY created_at DESC, blocked_id",
            blocker_id,
        )
        return [Block(r["blocker_id"], r["blocked_id"], r["created_at"]) for r in rows]

    def between(self, user_a: str, user_b: str) -> set[str]:
        rows = self._all(
            "SELECT blocker_id FROM blocks WHERE (blocker_id = %s AND blocked_id = %s)"
            " OR (blocker_id = %s AND blocked_id = %s)",
            user_a,
            user_b,
            user_b,
            user_a,
        )
        return {row["blocker_id"] for row in rows}

    def involving(self, user_id: str) -> set[str]:
        rows = self._all(
            "SELECT blocked_id AS other FROM blocks WHERE blocker_id = %s"
            " UNION SELECT blocker_id FROM blocks WHERE blocked_id = %s",
            user_id,
            user_id,
        )
        return {row["other"] for row in rows}


class PostgresTransaction:
    def __init__(self, db: Db, *, writing: bool = True) -> None:
        self.users = _Users(db)
        self.conversations = _Conversations(db, writing=writing)
        self.members = _Members(db)
        self.messages = _Messages(db)
        self.attachments = SqlAttachments(_Statements(db))
        self.reactions = SqlReactions(_Statements(db), " FOR SHARE")
        self.log = SqlLog(_Statements(db))
        self.sync = SqlSync(_Statements(db))
        self.credentials = _Credentials(db)
        self.sessions = _EndedSessions(db)
        self.blocks = _Blocks(db)


def _configure(db: psycopg.Connection[Any]) -> None:
    db.autocommit = True  # transactions are begun explicitly, with their isolation level
    db.execute("SET TIME ZONE 'UTC'")


class PostgresStore:
    """A `Store` in a PostgreSQL database at `url`, whose schema `hubbub migrate` has
    brought up to date (it refuses one that is not, `SchemaError`). `connections` is
    the size of this process's pool, and so of its worker threads."""

    # Writes run on parallel threads and take their locks in whatever order they
    # get there; see `Store.commits_in_call_order`.
    commits_in_call_order = False

    def __init__(self, url: str, *, connections: int = 8) -> None:
        require_current(url)
        self._pool: ConnectionPool[Db] = ConnectionPool(
            url,
            min_size=1,
            max_size=connections,
            kwargs={"row_factory": dict_row},
            configure=_configure,
            # No check round trip when a connection is taken: the BEGIN every use
            # starts with is the check (`_begun`), so a connection the server dropped
            # (a restart, a failover) is replaced instead of failing a request.
            open=False,
            name="hubbub",
        )
        self._pool.open(wait=True, timeout=30)
        self._workers = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="postgres")
        self._commit_order = CommitOrder()
        self._closed = False

    async def read(self, work: Callable[[PostgresTransaction], T], *, quick: bool = False) -> T:
        # Never on the caller's thread (`quick` or not): every read is a round trip.
        if self._closed:
            raise RuntimeError("store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._workers, self._read, work)

    async def write(
        self,
        work: Callable[[PostgresTransaction], T],
        on_commit: Callable[[T], None] | None = None,
    ) -> T:
        if self._closed:
            raise RuntimeError("store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._workers.submit(self._write, work, on_commit, loop, future)
        # The job commits and runs on_commit even if this caller is cancelled.
        return await asyncio.shield(future)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._workers.shutdown, wait=True)
        await asyncio.to_thread(self._pool.close)

    @contextlib.contextmanager
    def _begun(self, begin: bytes) -> Iterator[Db]:
        """A pooled connection with a transaction begun by `begin`. A connection that
        fails its BEGIN is broken (nothing of the caller's ran on it): the pool drops
        it and the next one is tried, up to every connection the pool may hold."""
        for attempt in range(self._pool.max_size + 1):
            with self._pool.connection() as db:
                try:
                    db.execute(begin)
                except psycopg.OperationalError:
                    if not db.broken or attempt == self._pool.max_size:
                        raise
                    continue  # leaving the block hands the broken connection back
                yield db
                return
        raise AssertionError("unreachable")

    def _read(self, work: Callable[[PostgresTransaction], T]) -> T:
        # One snapshot for the whole function, as the contract promises reads.
        with self._begun(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") as db:
            try:
                return work(PostgresTransaction(db, writing=False))
            finally:
                db.execute(b"ROLLBACK")

    def _write(
        self,
        work: Callable[[PostgresTransaction], T],
        on_commit: Callable[[T], None] | None,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[T],
    ) -> None:
        try:
            with self._begun(b"BEGIN ISOLATION LEVEL READ COMMITTED") as db:
                for attempt in range(1, WRITE_ATTEMPTS + 1):
                    if attempt > 1:
                        db.execute(b"BEGIN ISOLATION LEVEL READ COMMITTED")
                    try:
                        result = work(PostgresTransaction(db))
                        ticket = self._commit_order.take()
                        try:
                            db.execute(b"COMMIT")
                        except BaseException:
                            self._commit_order.done(ticket, None)
                            raise
                        hand_over = partial(
                            loop.call_soon_threadsafe, settle, future, on_commit, result, None
                        )
                        self._commit_order.done(ticket, hand_over)
                        return
                    except (LostRace, *_RETRY) as lost:
                        _rollback(db)
                        if attempt == WRITE_ATTEMPTS:
                            # The server's own words name its internals: not for clients.
                            message = (
                                lost.message
                                if isinstance(lost, LostRace)
                                else "Too many concurrent changes; try again."
                            )
                            gave_up = Conflict(message)
                            gave_up.__cause__ = lost
                            raise gave_up from lost
                    except BaseException:
                        _rollback(db)
                        raise
        except BaseException as failure:
            loop.call_soon_threadsafe(settle, future, None, None, failure)


def _rollback(db: Db) -> None:
    with contextlib.suppress(psycopg.Error):
        db.execute(b"ROLLBACK")
