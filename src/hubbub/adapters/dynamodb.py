"""The DynamoDB store: the tables of `dynamodb_tables`, shared by every process and
every Lambda function of a deployment.

Optimistic transactions. DynamoDB has no transaction that reads, waits and writes;
it has `TransactWriteItems`: up to 100 conditional writes that all happen or none.
So a transaction function runs against a `_Tx` whose reads go to DynamoDB (strongly
consistent on the tables, eventually consistent on the indexes) and whose writes are
buffered (later reads of the same run see them, queries included). Every item carries
a version (`ver`); the commit is one `TransactWriteItems` in which each written item
is conditional on the version this run read (or on not existing), and each locked
item (`lock`, the conversation row that `next_seq`/`append` move, a family's row for
refresh rotation) has its version bumped under the same condition. If any condition
fails, another transaction committed in between: the function is run again from the
start (as PostgreSQL re-runs a serialization failure), up to `_COMMIT_ATTEMPTS` times,
then `Conflict`. A repository's own `LostRace` counts against `WRITE_ATTEMPTS`, as on
every store. A function that wrote nothing sends nothing.

Locking reads are current because they are consistent reads, and serialise because a
lock is a version bump: of two transactions that locked the same row, the second to
commit fails its condition and runs again, reading what the first committed.

Commit order: `on_commit` results are handed over in the order the transactions took
a ticket, just before sending their `TransactWriteItems` (`_CommitOrder`, shared with
PostgreSQL's reasoning). A transaction whose final run read version v of a row took
its ticket after the commit that wrote v had returned, so whenever two commits touch
the same row (and so their order matters), ticket order is commit order.

A commit could need more than 100 actions only for a big group. Creating one writes
the surplus memberships ahead of the commit (nothing reaches them before the
conversation row exists; they are deleted again if the commit fails). Deleting one
commits its row, direct key and as many children as fit; each member's departure
(two writes) that does not fit is committed right after, in a small transaction of
its own; the remaining children (messages, log, reactions, memberships) are deleted
by batch writes. All of it happens before `write` returns. The children are
unreachable once the conversation row is gone (every path to them starts from a
conversation the caller is in), so a crash in between leaves only garbage, and
departures not yet recorded (a client that learned of the group live and resumes
from a cursor would keep showing it until it reloads).

No Scan anywhere: every read is a GetItem, a BatchGetItem or a Query on a key or an
index. Full-text message search is not offered (`SearchUnavailable`): DynamoDB has no
text index, and scanning a user's conversations is not a query.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from hubbub.adapters.postgres import _CommitOrder, _settle
from hubbub.domain import search
from hubbub.domain.errors import Conflict, SearchUnavailable
from hubbub.domain.models import (
    Attachment,
    Block,
    Conversation,
    ConversationKind,
    LogEntry,
    Membership,
    Message,
    Reaction,
    ReadMarker,
    Role,
    SyncHead,
    User,
)
from hubbub.ports import WRITE_ATTEMPTS, Credential, LostRace, RefreshToken

T = TypeVar("T")
Item = dict[str, Any]
Key = tuple[str, str, str]

# Runs after conditional-check failures (optimistic losses) before `Conflict`.
_COMMIT_ATTEMPTS = 12
# Per-process locks a commit holds on the rows it writes (`DynamoStore._stripes`).
_STRIPES = 64
_MAX_ACTIONS = 100


# ---- encoding -------------------------------------------------------------------


def _ts(moment: datetime) -> str:
    """A time as a fixed-width UTC string, so string order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _t(moment: datetime) -> datetime:
    found = _dt(_ts(moment))
    assert found is not None
    return found.replace(tzinfo=UTC)


def _pad(n: int) -> str:
    return f"{n:012d}"


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def _enc(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in item.items():
        if value is None:
            continue
        if name == "d":
            out[name] = {"S": json.dumps(value, separators=(",", ":"))}
        elif isinstance(value, bool):
            out[name] = {"BOOL": value}
        elif isinstance(value, int):
            out[name] = {"N": str(value)}
        else:
            out[name] = {"S": value}
    return out


def _dec(raw: dict[str, Any]) -> Item:
    out: Item = {}
    for name, value in raw.items():
        if "S" in value:
            out[name] = json.loads(value["S"]) if name == "d" else value["S"]
        elif "N" in value:
            out[name] = int(value["N"])
        elif "BOOL" in value:
            out[name] = value["BOOL"]
    return out


def _user_d(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "created_at": _ts(user.created_at),
        "confirmed": user.confirmed,
        "last_seen_at": user.last_seen_at and _ts(user.last_seen_at),
        "avatar_id": user.avatar_id,
    }


def _user(d: dict[str, Any]) -> User:
    return User(
        id=d["id"],
        username=d["username"],
        email=d["email"],
        display_name=d["display_name"],
        created_at=_t_req(d["created_at"]),
        confirmed=d["confirmed"],
        last_seen_at=_time(d["last_seen_at"]),
        avatar_id=d["avatar_id"],
    )


def _t_req(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _conv_d(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id,
        "kind": c.kind.value,
        "title": c.title,
        "created_by": c.created_by,
        "created_at": _ts(c.created_at),
        "updated_at": _ts(c.updated_at),
        "last_seq": c.last_seq,
        "direct_key": c.direct_key,
        "last_event_seq": c.last_event_seq,
    }


def _conv(d: dict[str, Any]) -> Conversation:
    return Conversation(
        id=d["id"],
        kind=ConversationKind(d["kind"]),
        title=d["title"],
        created_by=d["created_by"],
        created_at=_t_req(d["created_at"]),
        updated_at=_t_req(d["updated_at"]),
        last_seq=d["last_seq"],
        direct_key=d["direct_key"],
        last_event_seq=d["last_event_seq"],
    )


def _member_d(m: Membership, stamp: int = 0) -> dict[str, Any]:
    return {
        "conversation_id": m.conversation_id,
        "user_id": m.user_id,
        "role": m.role.value,
        "joined_at": _ts(m.joined_at),
        "read_seq": m.read_seq,
        "joined_event_seq": m.joined_event_seq,
        "muted_until": m.muted_until and _ts(m.muted_until),
        "stamp": stamp,
    }


def _member(d: dict[str, Any]) -> Membership:
    return Membership(
        conversation_id=d["conversation_id"],
        user_id=d["user_id"],
        role=Role(d["role"]),
        joined_at=_t_req(d["joined_at"]),
        read_seq=d["read_seq"],
        joined_event_seq=d["joined_event_seq"],
        muted_until=_time(d["muted_until"]),
    )


def _attachment_d(a: Attachment) -> dict[str, Any]:
    return {
        "id": a.id,
        "conversation_id": a.conversation_id,
        "uploader_id": a.uploader_id,
        "file_name": a.file_name,
        "content_type": a.content_type,
        "size": a.size,
        "created_at": _ts(a.created_at),
        "width": a.width,
        "height": a.height,
        "has_thumbnail": a.has_thumbnail,
        "message_id": a.message_id,
    }


def _attachment(d: dict[str, Any]) -> Attachment:
    return Attachment(
        id=d["id"],
        conversation_id=d["conversation_id"],
        uploader_id=d["uploader_id"],
        file_name=d["file_name"],
        content_type=d["content_type"],
        size=d["size"],
        created_at=_t_req(d["created_at"]),
        width=d["width"],
        height=d["height"],
        has_thumbnail=d["has_thumbnail"],
        message_id=d["message_id"],
    )


def _message_d(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "sender_id": m.sender_id,
        "body": m.body,
        "client_message_id": m.client_message_id,
        "created_at": _ts(m.created_at),
        "edited_at": m.edited_at and _ts(m.edited_at),
        "deleted": m.deleted,
        "attachments": [_attachment_d(a) for a in m.attachments],
        "reply_to_id": m.reply_to_id,
    }


def _message(d: dict[str, Any]) -> Message:
    return Message(
        id=d["id"],
        conversation_id=d["conversation_id"],
        seq=d["seq"],
        sender_id=d["sender_id"],
        body=d["body"],
        client_message_id=d["client_message_id"],
        created_at=_t_req(d["created_at"]),
        edited_at=_time(d["edited_at"]),
        deleted=d["deleted"],
        attachments=tuple(_attachment(a) for a in d["attachments"]),
        reply_to_id=d["reply_to_id"],
    )


def _entry_d(e: LogEntry) -> dict[str, Any]:
    return {
        "conversation_id": e.conversation_id,
        "type": e.type,
        "at": _ts(e.at),
        "event_seq": e.event_seq,
        "actor_id": e.actor_id,
        "subject_id": e.subject_id,
        "message_id": e.message_id,
        "detail": e.detail,
    }


def _entry(d: dict[str, Any]) -> LogEntry:
    return LogEntry(
        conversation_id=d["conversation_id"],
        type=d["type"],
        at=_t_req(d["at"]),
        event_seq=d["event_seq"],
        actor_id=d["actor_id"],
        subject_id=d["subject_id"],
        message_id=d["message_id"],
        detail=d["detail"],
    )


def _credential_d(c: Credential) -> dict[str, Any]:
    return {
        "user_id": c.user_id,
        "username": c.username,
        "email": c.email,
        "password_hash": c.password_hash,
        "confirmed": c.confirmed,
        "code_hash": c.confirmation_code_hash,
        "code_expires_at": c.code_expires_at and _ts(c.code_expires_at),
    }


def _credential(d: dict[str, Any]) -> Credential:
    return Credential(
        user_id=d["user_id"],
        username=d["username"],
        email=d["email"],
        password_hash=d["password_hash"],
        confirmed=d["confirmed"],
        confirmation_code_hash=d["code_hash"],
        code_expires_at=_time(d["code_expires_at"]),
    )


def _token_d(t: RefreshToken) -> dict[str, Any]:
    return {
        "token_hash": t.token_hash,
        "user_id": t.user_id,
        "family_id": t.family_id,
        "expires_at": _ts(t.expires_at),
        "used_at": t.used_at and _ts(t.used_at),
    }


def _token(d: dict[str, Any]) -> RefreshToken:
    return RefreshToken(
        token_hash=d["token_hash"],
        user_id=d["user_id"],
        family_id=d["family_id"],
        expires_at=_t_req(d["expires_at"]),
        used_at=_time(d["used_at"]),
    )


# ---- the transaction core -------------------------------------------------------


class _Stale(LostRace):
    """A read found what only a commit after this run's earlier reads could have made
    (a message at the seq this run just took): its snapshot is stale, as a failed
    commit condition would have said. Re-run like a lost commit, with its backoff."""


class _Query:
    """A key condition on one partition (of a table or an index), also checked in
    Python against the run's buffered writes."""

    def __init__(
        self,
        table: str,
        hash_name: str,
        hash_value: str,
        *,
        index: str | None = None,
        range_name: str = "sk",
        low: str | None = None,
        high: str | None = None,
        prefix: str | None = None,
    ) -> None:
        self.table, self.index = table, index
        self.hash_name, self.hash_value, self.range_name = hash_name, hash_value, range_name
        self.low, self.high, self.prefix = low, high, prefix

    def holds(self, item: Item) -> bool:
        if item.get(self.hash_name) != self.hash_value:
            return False
        value = item.get(self.range_name)
        if not isinstance(value, str):
            return False
        if self.low is not None and value <= self.low:
            return False
        if self.high is not None and value >= self.high:
            return False
        return self.prefix is None or value.startswith(self.prefix)

    def arguments(self) -> dict[str, Any]:
        expression = "#h = :h"
        names = {"#h": self.hash_name}
        values: dict[str, Any] = {":h": {"S": self.hash_value}}
        if self.prefix is not None:
            expression += " AND begins_with(#r, :p)"
            names["#r"] = self.range_name
            values[":p"] = {"S": self.prefix}
        elif self.low is not None and self.high is not None:
            # BETWEEN is inclusive: the bounds are excluded again in `holds`.
            expression += " AND #r BETWEEN :lo AND :hi"
            names["#r"] = self.range_name
            values[":lo"], values[":hi"] = {"S": self.low}, {"S": self.high}
        elif self.low is not None:
            expression += " AND #r > :lo"
            names["#r"] = self.range_name
            values[":lo"] = {"S": self.low}
        elif self.high is not None:
            expression += " AND #r < :hi"
            names["#r"] = self.range_name
            values[":hi"] = {"S": self.high}
        arguments: dict[str, Any] = {
            "KeyConditionExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if self.index:
            arguments["IndexName"] = self.index
        else:
            arguments["ConsistentRead"] = True
        return arguments


class _Tx:
    """One run of a transaction function: consistent reads, buffered writes."""

    def __init__(self, store: DynamoStore, *, writing: bool) -> None:
        self._store = store
        self._client = store.client
        self._writing = writing
        # Versions read consistently (None: absent), by key.
        self._seen: dict[Key, int | None] = {}
        # Buffered puts (the item) and deletes (None), in the order made.
        self._buffer: dict[Key, Item | None] = {}
        self._deferrable: set[Key] = set()
        self._fresh: set[Key] = set()
        self._cache: dict[Key, Item | None] = {}
        self._follow_ups: list[tuple[list[Key], Callable[[DynamoTransaction], object]]] = []
        self._locks: dict[Key, None] = {}

    def name(self, table: str) -> str:
        return self._store.prefix + table

    # reads

    def get(self, table: str, pk: str, sk: str) -> Item | None:
        key = (table, pk, sk)
        if key in self._buffer:
            found = self._buffer[key]
            return None if found is None else _copy(found)
        if key in self._cache:
            cached = self._cache[key]
            return None if cached is None else _copy(cached)
        if not _keyable(pk, sk):
            # Still a round trip (health probes read an empty id to see the store
            # answer), for a key no item has.
            pk = sk = "\x00"
        response = self._client.get_item(
            TableName=self.name(table),
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConsistentRead=True,
        )
        raw = response.get("Item")
        item = _dec(raw) if raw else None
        self._remember(key, item)
        return item

    def get_many(self, table: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Item]:
        found: dict[tuple[str, str], Item] = {}
        wanted: list[tuple[str, str]] = []
        for pk, sk in dict.fromkeys(keys):
            if not _keyable(pk, sk):
                continue
            if (table, pk, sk) in self._buffer:
                item = self._buffer[(table, pk, sk)]
                if item is not None:
                    found[(pk, sk)] = _copy(item)
            else:
                wanted.append((pk, sk))
        name = self.name(table)
        for start in range(0, len(wanted), 100):
            pending: dict[str, Any] = {
                name: {
                    "Keys": [
                        {"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in wanted[start : start + 100]
                    ],
                    "ConsistentRead": True,
                }
            }
            pause = 0.01
            while pending:
                response = self._client.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(name, []):
                    item = _dec(raw)
                    found[(item["pk"], item["sk"])] = item
                    self._remember((table, item["pk"], item["sk"]), item)
                pending = response.get("UnprocessedKeys") or {}
                if pending:
                    time.sleep(pause)
                    pause = min(pause * 2, 1.0)
        return found

    def query(self, q: _Query, *, forward: bool = True, limit: int | None = None) -> list[Item]:
        """The items in the query's range, in range-key order (reversed unless
        `forward`), at most `limit`, with this run's buffered writes applied."""
        buffered = [(key, item) for key, item in self._buffer.items() if key[0] == q.table]
        if not _keyable(q.hash_value, q.prefix or q.low or q.high or "-"):
            return []
        arguments = q.arguments()
        arguments["TableName"] = self.name(q.table)
        arguments["ScanIndexForward"] = forward
        if limit is not None and not buffered:
            arguments["Limit"] = limit
        items: list[Item] = []
        while True:
            response = self._client.query(**arguments)
            for raw in response.get("Items", []):
                item = _dec(raw)
                if q.holds(item):  # BETWEEN's bounds are inclusive: dropped here
                    items.append(item)
            last = response.get("LastEvaluatedKey")
            # Both endings: no key after an exactly full last page (moto), or a key
            # and then an empty page (DynamoDB).
            if not last or (limit is not None and not buffered and len(items) >= limit):
                break
            arguments["ExclusiveStartKey"] = last
        if q.index is None:
            for item in items:
                self._remember((q.table, item["pk"], item["sk"]), item)
        if buffered:
            by_key = {(q.table, i["pk"], i["sk"]): i for i in items}
            for key, pending in buffered:
                by_key.pop(key, None)
                if pending is not None and q.holds(pending):
                    by_key[key] = _copy(pending)
            items = sorted(
                by_key.values(),
                key=lambda i: (i[q.range_name], i["pk"], i["sk"]),
                reverse=not forward,
            )
        return items if limit is None else items[:limit]

    def _remember(self, key: Key, item: Item | None) -> None:
        # A second read of the same item in this run is answered from here: the commit
        # is conditional on the version first read anyway.
        self._cache.setdefault(key, None if item is None else _copy(item))
        if key not in self._seen and key not in self._buffer:
            self._seen[key] = None if item is None else int(item.get("ver", 0))

    def _known(self, key: Key) -> None:
        if not self._writing:
            raise RuntimeError("a read transaction must not write")
        if key not in self._seen and key not in self._buffer:
            self.get(*key)

    # writes

    def put(self, table: str, item: Item, *, fresh: bool = False) -> None:
        """Buffers a write. `fresh`: the item belongs to a row this run creates (a new
        conversation's memberships), so nothing else can reach it before the commit
        and it may be written ahead of it if the commit would be too large."""
        key = (table, item["pk"], item["sk"])
        self._known(key)
        self._buffer[key] = item
        if fresh:
            self._fresh.add(key)

    def assume_absent(self, key: Key) -> None:
        """Records `key` as read and absent without reading it (see `_Members.put`)."""
        if key not in self._seen and key not in self._buffer:
            self._seen[key] = None
            self._cache[key] = None

    def creates(self, table: str, pk: str, sk: str) -> bool:
        """Whether this run creates that item (it did not exist when read)."""
        key = (table, pk, sk)
        return self._buffer.get(key) is not None and self._seen.get(key, 0) is None

    def delete(self, table: str, pk: str, sk: str, *, deferrable: bool = False) -> None:
        key = (table, pk, sk)
        self._known(key)
        self._buffer[key] = None
        if deferrable:
            self._deferrable.add(key)

    def lock(self, table: str, pk: str, sk: str) -> None:
        key = (table, pk, sk)
        self._known(key)
        self._locks[key] = None

    # commit

    def written(self) -> list[Key]:
        """The keys this run writes or locks (what a lost commit lost on)."""
        return [*self._buffer, *self._locks]

    def follow_up(self, keys: Sequence[Key], work: Callable[[DynamoTransaction], object]) -> None:
        """Says that the writes to `keys` (already buffered) are what `work` writes, and
        may instead be committed by running `work` in a transaction of its own after this
        one commits, if this one would not fit in 100 writes (a user's departure from a
        deleted conversation, per member)."""
        self._follow_ups.append((list(keys), work))

    def actions(
        self,
    ) -> tuple[
        list[dict[str, Any]],
        list[Key],
        list[dict[str, Any]],
        list[Callable[[DynamoTransaction], object]],
    ]:
        """The TransactWriteItems actions; then, only when everything would not fit in
        one transaction: the deletes left for after the commit, the fresh items to write
        ahead of it, and the follow-up transactions to run after it (module docstring)."""
        actions: list[dict[str, Any]] = []
        later: list[Key] = []
        ahead: list[dict[str, Any]] = []
        follow: list[Callable[[DynamoTransaction], object]] = []
        excluded: set[Key] = set()
        movable = {k for k in self._buffer if k in self._deferrable} | {
            k for k in self._buffer if k in self._fresh and self._seen.get(k) is None
        }

        def required() -> int:
            written = [
                k
                for k, v in self._buffer.items()
                if k not in excluded
                and k not in movable
                and (v is not None or self._seen.get(k) is not None)
            ]
            return len(written) + sum(
                1 for k in self._locks if k not in self._buffer and k not in excluded
            )

        for keys, work in self._follow_ups:
            if required() <= _MAX_ACTIONS:
                break
            excluded.update(keys)
            follow.append(work)
        deletes = [
            k
            for k, v in self._buffer.items()
            if v is None and self._seen.get(k) is not None and k not in excluded
        ]
        puts = [k for k, v in self._buffer.items() if v is not None and k not in excluded]
        locks = [k for k in self._locks if k not in self._buffer and k not in excluded]
        movable &= set(deletes) | set(puts)
        room = _MAX_ACTIONS - (len(deletes) + len(puts) + len(locks) - len(movable))
        for key in puts + deletes:
            table, pk, sk = key
            name = self.name(table)
            seen = self._seen.get(key)
            item = self._buffer[key]
            if key in movable:
                if room <= 0:
                    if item is None:
                        later.append(key)
                    else:
                        ahead.append({"table": name, "item": _enc({**item, "ver": 1})})
                    continue
                room -= 1
            target = {"TableName": name, "Key": {"pk": {"S": pk}, "sk": {"S": sk}}}
            if item is None:
                actions.append({"Delete": {**target, **_condition(seen)}})
            else:
                written = {**item, "ver": (seen or 0) + 1}
                actions.append(
                    {"Put": {"TableName": name, "Item": _enc(written), **_condition(seen)}}
                )
        for key in locks:
            table, pk, sk = key
            seen = self._seen.get(key)
            target = {"TableName": self.name(table), "Key": {"pk": {"S": pk}, "sk": {"S": sk}}}
            if seen is None:
                actions.append({"ConditionCheck": {**target, **_condition(None)}})
            else:
                actions.append(
                    {
                        "Update": {
                            **target,
                            "UpdateExpression": "SET ver = :next",
                            **_condition(seen, {":next": {"N": str(seen + 1)}}),
                        }
                    }
                )
        if len(actions) > _MAX_ACTIONS:
            # Only a deployment's own batch jobs could get here, never a request:
            # they must write in smaller transactions.
            raise RuntimeError(
                f"a DynamoDB transaction holds at most {_MAX_ACTIONS} writes, not {len(actions)}"
            )
        return actions, later, ahead, follow


def _copy(item: Item) -> Item:
    """A copy a repository may change (its `d` too) without touching the original."""
    copied = dict(item)
    if isinstance(copied.get("d"), dict):
        copied["d"] = json.loads(json.dumps(copied["d"]))
    return copied


def _keyable(pk: str, sk: str) -> bool:
    """Whether DynamoDB accepts these as key values (not empty, not too long). Ids
    from requests may be anything; no stored item has such a key, so a lookup by one
    finds nothing."""
    return 0 < len(pk.encode()) <= 2048 and 0 < len(sk.encode()) <= 1024


def _condition(seen: int | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    if seen is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    values = {":seen": {"N": str(seen)}, **(extra or {})}
    if seen == 0:
        return {
            "ConditionExpression": "attribute_not_exists(ver) OR ver = :seen",
            "ExpressionAttributeValues": values,
        }
    return {"ConditionExpression": "ver = :seen", "ExpressionAttributeValues": values}


# ---- repositories ---------------------------------------------------------------


def _unique(tx: _Tx, key: str) -> Item | None:
    return tx.get("unique-keys", key, "k")


def _claim_unique(tx: _Tx, key: str, **refs: Any) -> None:
    tx.put("unique-keys", {"pk": key, "sk": "k", "d": refs})


class _Users:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def _item(self, user: User) -> Item:
        item: Item = {"pk": user.id, "sk": "user", "d": _user_d(user)}
        if user.confirmed and user.username:
            item["npk"] = "n#" + user.username[:1]
            item["nsk"] = user.username + " " + user.id
        return item

    def get(self, user_id: str) -> User | None:
        found = self._tx.get("users", user_id, "user")
        return _user(found["d"]) if found else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, User]:
        found = self._tx.get_many("users", ((u, "user") for u in user_ids))
        return {pk: _user(item["d"]) for (pk, _), item in found.items()}

    def _by(self, key: str) -> User | None:
        ref = _unique(self._tx, key)
        return self.get(ref["d"]["user_id"]) if ref else None

    def by_username(self, username: str) -> User | None:
        return self._by("username#" + username.lower())

    def by_email(self, email: str) -> User | None:
        return self._by("email#" + email.lower())

    def insert(self, user: User) -> None:
        keys = ("username#" + user.username.lower(), "email#" + user.email.lower())
        if any(_unique(self._tx, k) for k in keys):
            raise Conflict("That username or email is already registered.")
        for key in keys:
            _claim_unique(self._tx, key, user_id=user.id)
        self._tx.put("users", self._item(user))
        self._words(None, user)

    def _words(self, old: User | None, new: User | None) -> None:
        before = set(search.words(old.display_name)) if old else set()
        after = set(search.words(new.display_name)) if new else set()
        held = old or new
        user_id = held.id if held else ""
        for word in before - after:
            self._tx.delete("user-words", "w#" + word[:1], word + " " + user_id)
        for word in after - before:
            self._tx.put(
                "user-words", {"pk": "w#" + word[:1], "sk": word + " " + user_id, "uid": user_id}
            )

    def update(self, user: User) -> None:
        held = self.get(user.id)
        kept = replace(user, last_seen_at=held.last_seen_at if held else None)
        self._tx.put("users", self._item(kept))
        self._words(held, kept)

    def set_last_seen(self, user_id: str, at: datetime) -> None:
        held = self.get(user_id)
        if held and (held.last_seen_at is None or held.last_seen_at < at):
            self._tx.put("users", self._item(replace(held, last_seen_at=at)))

    def delete(self, user_id: str) -> None:
        user = self.get(user_id)
        if user:
            self._tx.delete("users", user_id, "user")
            self._tx.delete("unique-keys", "username#" + user.username.lower(), "k")
            self._tx.delete("unique-keys", "email#" + user.email.lower(), "k")
            self._words(user, None)

    def search(self, prefix: str, *, exclude_id: str, limit: int) -> list[User]:
        folded = search.fold(prefix)
        terms = search.words(prefix)
        found: dict[str, User] = {}
        if folded:
            q = _Query(
                "users", "npk", "n#" + folded[:1], index="byName", range_name="nsk", prefix=folded
            )
            for item in self._tx.query(q, limit=limit + 1):
                found[item["pk"]] = _user(item["d"])
        if terms:
            # The longest term narrows most; the others are checked on the name.
            term = max(terms, key=len)
            q = _Query("user-words", "pk", "w#" + term[:1], prefix=term)
            ids = {item["uid"] for item in self._tx.query(q)} - found.keys()
            for user in self.get_many(sorted(ids)).values():
                if search.matches(terms, user.display_name):
                    found[user.id] = user
        hits = [u for u in found.values() if u.id != exclude_id and u.confirmed]
        return sorted(hits, key=lambda u: u.username)[:limit]


class _Conversations:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def _put(self, c: Conversation) -> None:
        self._tx.put("conversations", {"pk": c.id, "sk": "conv", "d": _conv_d(c)})

    def get(self, conversation_id: str) -> Conversation | None:
        found = self._tx.get("conversations", conversation_id, "conv")
        return _conv(found["d"]) if found else None

    def get_many(self, conversation_ids: Sequence[str]) -> dict[str, Conversation]:
        found = self._tx.get_many("conversations", ((c, "conv") for c in conversation_ids))
        return {pk: _conv(item["d"]) for (pk, _), item in found.items()}

    def by_direct_key(self, key: str) -> Conversation | None:
        ref = _unique(self._tx, "direct#" + key)
        return self.get(ref["d"]["conversation_id"]) if ref else None

    def lock(self, conversation_id: str) -> Conversation | None:
        found = self.get(conversation_id)
        if self._tx._writing:
            self._tx.lock("conversations", conversation_id, "conv")
        return found

    def insert(self, conversation: Conversation) -> None:
        key = conversation.direct_key
        if key is not None:
            if _unique(self._tx, "direct#" + key):
                raise LostRace("That direct conversation already exists.")
            _claim_unique(self._tx, "direct#" + key, conversation_id=conversation.id)
        self._put(conversation)

    def next_seq(self, conversation_id: str, at: datetime) -> int | None:
        current = self.get(conversation_id)
        if current is None:
            return None
        seq = current.last_seq + 1
        self._put(replace(current, last_seq=seq, updated_at=max(current.updated_at, at)))
        return seq

    def set_title(self, conversation_id: str, title: str, at: datetime) -> Conversation | None:
        current = self.get(conversation_id)
        if current is None:
            return None
        renamed = replace(current, title=title, updated_at=max(current.updated_at, _t(at)))
        self._put(renamed)
        return renamed

    def touch(self, conversation_id: str, at: datetime) -> None:
        current = self.get(conversation_id)
        if current is not None and at > current.updated_at:
            self._put(replace(current, updated_at=at))

    def delete(self, conversation_id: str) -> None:
        tx = self._tx
        conversation = self.get(conversation_id)
        if conversation is None:
            return
        tx.delete("conversations", conversation_id, "conv")
        if conversation.direct_key:
            tx.delete("unique-keys", "direct#" + conversation.direct_key, "k")
        tx.delete("conversations", conversation_id, "receipts")
        for item in tx.query(_Query("conversation-members", "pk", conversation_id)):
            tx.delete("conversation-members", item["pk"], item["sk"], deferrable=True)
        for item in tx.query(_Query("messages", "pk", conversation_id)):
            message = _message(item["d"])
            tx.delete("messages", item["pk"], item["sk"], deferrable=True)
            tx.delete("unique-keys", f"mid#{conversation_id}#{message.id}", "k", deferrable=True)
            tx.delete(
                "unique-keys",
                f"cmid#{message.sender_id}#{message.client_message_id}",
                "k",
                deferrable=True,
            )
            for reaction in tx.query(_Query("reactions", "pk", f"{conversation_id}|{message.id}")):
                tx.delete("reactions", reaction["pk"], reaction["sk"], deferrable=True)
        for item in tx.query(_Query("conversation-events", "pk", conversation_id)):
            tx.delete("conversation-events", item["pk"], item["sk"], deferrable=True)
        for item in tx.query(_Query("attachments", "pk", conversation_id)):
            tx.delete("attachments", item["pk"], item["sk"], deferrable=True)

    def for_user(
        self, user_id: str, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Conversation]:
        # Every membership of the user, then their conversations, ordered here: the
        # order moves with every message, so no index holds it.
        ids = [
            i["cid"]
            for i in self._tx.query(
                _Query("conversation-members", "uid", user_id, index="byUser", range_name="cid")
            )
        ]
        mine = list(self.get_many(ids).values())
        ordered = sorted(mine, key=lambda c: (c.updated_at, c.id), reverse=True)
        if after is not None:
            ordered = [c for c in ordered if (c.updated_at, c.id) < after]
        return ordered[:limit]


class _Members:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def _item(self, m: Membership, stamp: int = 0) -> Item:
        return {
            "pk": m.conversation_id,
            "sk": m.user_id,
            "uid": m.user_id,
            "cid": m.conversation_id,
            "d": _member_d(m, stamp),
        }

    def _raw(self, conversation_id: str, user_id: str) -> Item | None:
        return self._tx.get("conversation-members", conversation_id, user_id)

    def get(self, conversation_id: str, user_id: str) -> Membership | None:
        found = self._raw(conversation_id, user_id)
        return _member(found["d"]) if found else None

    def _rows(self, conversation_id: str) -> list[Item]:
        return self._tx.query(_Query("conversation-members", "pk", conversation_id))

    def of_conversation(self, conversation_id: str) -> list[Membership]:
        found = [_member(i["d"]) for i in self._rows(conversation_id)]
        return sorted(found, key=lambda m: (m.joined_at, m.joined_event_seq, m.user_id))

    def of_conversations(self, conversation_ids: Sequence[str]) -> dict[str, list[Membership]]:
        found = {c: self.of_conversation(c) for c in dict.fromkeys(conversation_ids)}
        return {c: members for c, members in found.items() if members}

    def ids_of(self, conversation_id: str) -> list[str]:
        return [i["sk"] for i in self._rows(conversation_id)]

    def put(self, membership: Membership) -> None:
        fresh = self._tx.creates("conversations", membership.conversation_id, "conv")
        if fresh:
            # A conversation this run creates has no members but those it adds: no read
            # (the commit's condition says "absent" all the same).
            self._tx.assume_absent(
                ("conversation-members", membership.conversation_id, membership.user_id)
            )
        if self._raw(membership.conversation_id, membership.user_id):
            raise LostRace("Already a member.")
        self._tx.put("conversation-members", self._item(membership), fresh=fresh)

    def _change(
        self, conversation_id: str, user_id: str, change: Callable[[Membership], Membership]
    ) -> bool:
        found = self._raw(conversation_id, user_id)
        if found is None:
            return False
        changed = change(_member(found["d"]))
        self._tx.put("conversation-members", self._item(changed, found["d"]["stamp"]))
        return True

    def set_role(self, conversation_id: str, user_id: str, role: Role) -> bool:
        return self._change(conversation_id, user_id, lambda m: replace(m, role=role))

    def advance_read(self, conversation_id: str, user_id: str, seq: int) -> bool | None:
        current = self.get(conversation_id, user_id)
        if current is None:
            return None
        if seq <= current.read_seq:
            return False
        return self._change(conversation_id, user_id, lambda m: replace(m, read_seq=seq))

    def set_mute(self, conversation_id: str, user_id: str, until: datetime | None) -> bool:
        return self._change(conversation_id, user_id, lambda m: replace(m, muted_until=until))

    def remove(self, conversation_id: str, user_id: str) -> None:
        if self._raw(conversation_id, user_id):
            self._tx.delete("conversation-members", conversation_id, user_id)

    def _conversations_of(self, user_id: str) -> list[str]:
        q = _Query("conversation-members", "uid", user_id, index="byUser", range_name="cid")
        return [i["cid"] for i in self._tx.query(q)]

    def share_conversation(self, user_id: str, other_id: str) -> bool:
        mine = self._conversations_of(user_id)
        found = self._tx.get_many("conversation-members", ((c, other_id) for c in mine))
        return bool(found)

    def contacts_of(self, user_id: str) -> set[str]:
        contacts: set[str] = set()
        for conversation_id in self._conversations_of(user_id):
            contacts.update(self.ids_of(conversation_id))
        contacts.discard(user_id)
        return contacts


class _Messages:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def _put(self, m: Message) -> None:
        self._tx.put("messages", {"pk": m.conversation_id, "sk": _pad(m.seq), "d": _message_d(m)})

    def _seq_of(self, conversation_id: str, message_id: str) -> int | None:
        ref = _unique(self._tx, f"mid#{conversation_id}#{message_id}")
        return ref["d"]["seq"] if ref else None

    def get(self, conversation_id: str, message_id: str) -> Message | None:
        seq = self._seq_of(conversation_id, message_id)
        return None if seq is None else self.by_seq(conversation_id, seq)

    def by_seq(self, conversation_id: str, seq: int) -> Message | None:
        found = self._tx.get("messages", conversation_id, _pad(seq))
        return _message(found["d"]) if found else None

    def by_seqs(self, positions: Sequence[tuple[str, int]]) -> list[Message]:
        found = self._tx.get_many("messages", ((c, _pad(s)) for c, s in positions))
        return [_message(item["d"]) for item in found.values()]

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[Message]:
        refs = self._tx.get_many("unique-keys", ((f"mid#{c}#{m}", "k") for c, m in keys))
        positions = [
            (c, refs[(f"mid#{c}#{m}", "k")]["d"]["seq"])
            for c, m in dict.fromkeys(keys)
            if (f"mid#{c}#{m}", "k") in refs
        ]
        return self.by_seqs(positions)

    def by_client_id(self, sender_id: str, client_message_id: str) -> Message | None:
        ref = _unique(self._tx, f"cmid#{sender_id}#{client_message_id}")
        if ref is None:
            return None
        return self.by_seq(ref["d"]["conversation_id"], ref["d"]["seq"])

    def insert(self, message: Message) -> None:
        if self.by_client_id(message.sender_id, message.client_message_id) is not None:
            raise LostRace("Duplicate message.")
        if self.by_seq(message.conversation_id, message.seq) is not None:
            raise _Stale("Duplicate message.")
        self._put(message)
        _claim_unique(self._tx, f"mid#{message.conversation_id}#{message.id}", seq=message.seq)
        _claim_unique(
            self._tx,
            f"cmid#{message.sender_id}#{message.client_message_id}",
            conversation_id=message.conversation_id,
            seq=message.seq,
        )

    def edit(self, conversation_id: str, message_id: str, body: str, at: datetime) -> bool:
        current = self.get(conversation_id, message_id)
        if current is None or current.deleted:
            return False
        self._put(replace(current, body=body, edited_at=at))
        return True

    def mark_deleted(self, conversation_id: str, message_id: str, at: datetime) -> bool:
        current = self.get(conversation_id, message_id)
        if current is None or current.deleted:
            return False
        self._put(replace(current, body="", deleted=True, edited_at=at, attachments=()))
        return True

    def page(
        self, conversation_id: str, *, before: int | None, after: int | None, limit: int
    ) -> list[Message]:
        if after is not None:
            q = _Query("messages", "pk", conversation_id, low=_pad(after))
            return [_message(i["d"]) for i in self._tx.query(q, limit=limit)]
        q = _Query("messages", "pk", conversation_id, high=None if before is None else _pad(before))
        newest = self._tx.query(q, forward=False, limit=limit)
        return [_message(i["d"]) for i in reversed(newest)]

    def search(
        self,
        user_id: str,
        terms: Sequence[str],
        *,
        conversation_id: str | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Message]:
        raise SearchUnavailable(
            "Message search is not available on this deployment (DynamoDB store)."
        )


class _Attachments:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def _put(self, a: Attachment) -> None:
        item: Item = {"pk": a.conversation_id, "sk": a.id, "d": _attachment_d(a)}
        if a.message_id is None:
            item["upk"] = "unsent"
            item["usk"] = f"{_ts(a.created_at)} {a.id} {a.conversation_id}"
        self._tx.put("attachments", item)

    def insert(self, attachment: Attachment) -> None:
        if self._tx.get("attachments", attachment.conversation_id, attachment.id):
            raise LostRace("Duplicate attachment.")
        self._put(attachment)

    def get(self, conversation_id: str, attachment_id: str) -> Attachment | None:
        found = self._tx.get("attachments", conversation_id, attachment_id)
        return _attachment(found["d"]) if found else None

    def attach(
        self, conversation_id: str, uploader_id: str, attachment_ids: Sequence[str], message_id: str
    ) -> list[Attachment]:
        done: list[Attachment] = []
        for attachment_id in dict.fromkeys(attachment_ids):
            found = self.get(conversation_id, attachment_id)
            if found and found.uploader_id == uploader_id and found.message_id is None:
                sent = replace(found, message_id=message_id)
                self._put(sent)
                done.append(sent)
        return done

    def detach(self, conversation_id: str, message_id: str) -> list[Attachment]:
        gone = [a for a in self.of_conversation(conversation_id) if a.message_id == message_id]
        for attachment in gone:
            self._tx.delete("attachments", conversation_id, attachment.id)
        return gone

    def of_conversation(self, conversation_id: str) -> list[Attachment]:
        return [
            _attachment(i["d"])
            for i in self._tx.query(_Query("attachments", "pk", conversation_id))
        ]

    def unsent_before(self, moment: datetime, limit: int) -> list[Attachment]:
        q = _Query(
            "attachments", "upk", "unsent", index="unsent", range_name="usk", high=_ts(moment)
        )
        return [_attachment(i["d"]) for i in self._tx.query(q, limit=limit)]

    def delete(self, conversation_id: str, attachment_id: str) -> bool:
        found = self.get(conversation_id, attachment_id)
        if found is None or found.message_id is not None:
            return False
        self._tx.delete("attachments", conversation_id, attachment_id)
        return True


class _Reactions:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def add(self, reaction: Reaction) -> bool | None:
        messages = _Messages(self._tx)
        seq = messages._seq_of(reaction.conversation_id, reaction.message_id)
        message = None if seq is None else messages.by_seq(reaction.conversation_id, seq)
        if message is None or message.deleted:
            return None
        # Held: a delete of the message committing meanwhile fails this commit.
        self._tx.lock("messages", reaction.conversation_id, _pad(message.seq))
        pk = f"{reaction.conversation_id}|{reaction.message_id}"
        sk = f"{reaction.user_id}|{reaction.emoji}"
        if self._tx.get("reactions", pk, sk):
            return False
        d = {
            "conversation_id": reaction.conversation_id,
            "message_id": reaction.message_id,
            "user_id": reaction.user_id,
            "emoji": reaction.emoji,
            "created_at": _ts(reaction.created_at),
        }
        self._tx.put("reactions", {"pk": pk, "sk": sk, "d": d})
        return True

    def remove(self, conversation_id: str, message_id: str, user_id: str, emoji: str) -> bool:
        pk, sk = f"{conversation_id}|{message_id}", f"{user_id}|{emoji}"
        if not self._tx.get("reactions", pk, sk):
            return False
        self._tx.delete("reactions", pk, sk)
        return True

    def of_messages(self, conversation_id: str, message_ids: Sequence[str]) -> list[Reaction]:
        return self.of_keys([(conversation_id, m) for m in message_ids])

    def of_keys(self, keys: Sequence[tuple[str, str]]) -> list[Reaction]:
        found = [
            Reaction(
                d["conversation_id"],
                d["message_id"],
                d["user_id"],
                d["emoji"],
                _t_req(d["created_at"]),
            )
            for c, m in dict.fromkeys(keys)
            for d in (i["d"] for i in self._tx.query(_Query("reactions", "pk", f"{c}|{m}")))
        ]
        return sorted(found, key=lambda r: (r.created_at, r.user_id))

    def clear(self, conversation_id: str, message_id: str) -> None:
        for item in self._tx.query(_Query("reactions", "pk", f"{conversation_id}|{message_id}")):
            self._tx.delete("reactions", item["pk"], item["sk"])


class _Log:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def _record(self, entry: LogEntry) -> None:
        item: Item = {
            "pk": entry.conversation_id,
            "sk": _pad(entry.event_seq),
            "d": _entry_d(entry),
        }
        if entry.type == "member.removed" and entry.subject_id:
            item["rpk"] = f"{entry.conversation_id}|{entry.subject_id}"
        self._tx.put("conversation-events", item)

    def append(self, entry: LogEntry) -> int | None:
        conversations = _Conversations(self._tx)
        current = conversations.get(entry.conversation_id)
        if current is None:
            return None
        seq = current.last_event_seq + 1
        conversations._put(replace(current, last_event_seq=seq))
        self._record(replace(entry, event_seq=seq))
        return seq

    def append_message(self, entry: LogEntry, at: datetime) -> tuple[int, int] | None:
        conversations = _Conversations(self._tx)
        current = conversations.get(entry.conversation_id)
        if current is None:
            return None
        seq, event_seq = current.last_seq + 1, current.last_event_seq + 1
        conversations._put(
            replace(
                current,
                last_seq=seq,
                last_event_seq=event_seq,
                updated_at=max(current.updated_at, at),
            )
        )
        self._record(replace(entry, event_seq=event_seq))
        return seq, event_seq

    def after(self, conversation_id: str, event_seq: int, limit: int) -> list[LogEntry]:
        q = _Query("conversation-events", "pk", conversation_id, low=_pad(event_seq))
        return [_entry(i["d"]) for i in self._tx.query(q, limit=limit)]

    def last_removal(self, conversation_id: str, user_id: str) -> LogEntry | None:
        q = _Query("conversation-events", "rpk", f"{conversation_id}|{user_id}", index="removals")
        found = self._tx.query(q, forward=False, limit=1)
        return _entry(found[0]["d"]) if found else None

    def record_receipt(self, conversation_id: str, user_id: str) -> int:
        counter = self._tx.get("conversations", conversation_id, "receipts")
        seq = (counter["d"]["n"] if counter else 0) + 1
        self._tx.put("conversations", {"pk": conversation_id, "sk": "receipts", "d": {"n": seq}})
        member = self._tx.get("conversation-members", conversation_id, user_id)
        if member is not None:
            member["d"]["stamp"] = seq
            self._tx.put("conversation-members", member)
        return seq

    def read_markers_after(
        self, conversation_id: str, receipt_seq: int, limit: int
    ) -> list[ReadMarker]:
        rows = self._tx.query(_Query("conversation-members", "pk", conversation_id))
        moved = [
            ReadMarker(i["sk"], i["d"]["read_seq"], i["d"]["stamp"])
            for i in rows
            if i["d"]["stamp"] > receipt_seq
        ]
        return sorted(moved, key=lambda m: m.receipt_seq)[:limit]


class _Sync:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def heads(self, user_id: str) -> list[SyncHead]:
        q = _Query("conversation-members", "uid", user_id, index="byUser", range_name="cid")
        memberships = [_member(i["d"]) for i in self._tx.query(q)]
        ids = [m.conversation_id for m in memberships]
        rows = self._tx.get_many(
            "conversations", [(c, "conv") for c in ids] + [(c, "receipts") for c in ids]
        )
        heads = []
        for m in memberships:
            conversation = rows.get((m.conversation_id, "conv"))
            if conversation is None:
                continue
            receipts = rows.get((m.conversation_id, "receipts"))
            heads.append(
                SyncHead(
                    m.conversation_id,
                    m.joined_event_seq,
                    conversation["d"]["last_event_seq"],
                    receipts["d"]["n"] if receipts else 0,
                    m.muted_until,
                )
            )
        return heads

    def record_departure(self, user_id: str, conversation_id: str) -> int:
        head = self._tx.get("sync-departures", user_id, "head")
        seq = (head["d"]["n"] if head else 0) + 1
        self._tx.put("sync-departures", {"pk": user_id, "sk": "head", "d": {"n": seq}})
        self._tx.put(
            "sync-departures",
            {"pk": user_id, "sk": "d#" + _pad(seq), "d": {"conversation_id": conversation_id}},
        )
        self._tx.follow_up(
            [("sync-departures", user_id, "head"), ("sync-departures", user_id, "d#" + _pad(seq))],
            lambda tx: tx.sync.record_departure(user_id, conversation_id),
        )
        return seq

    def departures_after(self, user_id: str, seq: int, limit: int) -> list[tuple[int, str]]:
        q = _Query("sync-departures", "pk", user_id, low="d#" + _pad(seq), high="d#" + "9" * 13)
        return [
            (int(i["sk"][2:]), i["d"]["conversation_id"]) for i in self._tx.query(q, limit=limit)
        ]

    def departure_head(self, user_id: str) -> int:
        head = self._tx.get("sync-departures", user_id, "head")
        return head["d"]["n"] if head else 0

    def save_snapshot(
        self, user_id: str, snapshot_id: str, positions: str, at: datetime, *, keep: int
    ) -> None:
        self._tx.put(
            "sync-snapshots",
            {"pk": user_id, "sk": snapshot_id, "d": {"positions": positions, "at": _ts(at)}},
        )
        mine = self._tx.query(_Query("sync-snapshots", "pk", user_id))
        mine.sort(key=lambda i: i["d"]["at"])
        for stale in mine[: max(len(mine) - keep, 0)]:
            self._tx.delete("sync-snapshots", user_id, stale["sk"])

    def load_snapshot(self, user_id: str, snapshot_id: str) -> str | None:
        found = self._tx.get("sync-snapshots", user_id, snapshot_id)
        return found["d"]["positions"] if found else None


class _Credentials:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def get(self, user_id: str) -> Credential | None:
        found = self._tx.get("credentials", user_id, "cred")
        return _credential(found["d"]) if found else None

    def by_login(self, login: str) -> Credential | None:
        needle = login.lower()
        for kind in ("login-username#", "login-email#"):
            ref = _unique(self._tx, kind + needle)
            if ref:
                return self.get(ref["d"]["user_id"])
        return None

    @staticmethod
    def _keys(c: Credential) -> tuple[str, str]:
        return "login-username#" + c.username.lower(), "login-email#" + c.email.lower()

    def put(self, credential: Credential) -> None:
        for key in self._keys(credential):
            ref = _unique(self._tx, key)
            if ref and ref["d"]["user_id"] != credential.user_id:
                raise Conflict("That username or email is already registered.")
        old = self.get(credential.user_id)
        if old:
            for key in set(self._keys(old)) - set(self._keys(credential)):
                self._tx.delete("unique-keys", key, "k")
        for key in self._keys(credential):
            _claim_unique(self._tx, key, user_id=credential.user_id)
        self._write(credential)

    def _write(self, c: Credential) -> None:
        self._tx.put("credentials", {"pk": c.user_id, "sk": "cred", "d": _credential_d(c)})

    def delete(self, user_id: str) -> None:
        old = self.get(user_id)
        if old:
            for key in self._keys(old):
                self._tx.delete("unique-keys", key, "k")
            self._tx.delete("credentials", user_id, "cred")

    def replace_code(
        self, user_id: str, code_hash: str, expires_at: datetime, *, confirmed: bool
    ) -> bool:
        found = self.get(user_id)
        if found is None or found.confirmed != confirmed:
            return False
        self._write(replace(found, confirmation_code_hash=code_hash, code_expires_at=expires_at))
        return True

    def confirm(self, user_id: str, code_hash: str) -> bool:
        found = self.get(user_id)
        if found is None or found.confirmed or found.confirmation_code_hash != code_hash:
            return False
        self._write(replace(found, confirmed=True, confirmation_code_hash=None))
        return True

    def set_password(self, user_id: str, password_hash: str, *, code_hash: str) -> bool:
        found = self.get(user_id)
        if found is None or not found.confirmed or found.confirmation_code_hash != code_hash:
            return False
        self._write(
            replace(
                found,
                password_hash=password_hash,
                confirmation_code_hash=None,
                code_expires_at=None,
            )
        )
        return True

    def delete_unconfirmed(self, user_id: str) -> bool:
        found = self.get(user_id)
        if found is None or found.confirmed:
            return False
        self.delete(user_id)
        return True

    # Refresh tokens: rows of their family's partition (`f#<family>`), whose `#` row
    # is the family's lock; `rt#<hash>` in unique-keys finds a token's family.

    def _token_row(self, token_hash: str) -> Item | None:
        ref = _unique(self._tx, "rt#" + token_hash)
        if ref is None:
            return None
        return self._tx.get("refresh-tokens", "f#" + ref["d"]["family_id"], token_hash)

    def get_refresh(self, token_hash: str) -> RefreshToken | None:
        row = self._token_row(token_hash)
        return _token(row["d"]) if row else None

    def _hold_family(self, family_id: str, user_id: str, *, create: bool) -> bool:
        marker = self._tx.get("refresh-tokens", "f#" + family_id, "#")
        if marker is None:
            if not create:
                return False
            self._tx.put(
                "refresh-tokens",
                {"pk": "f#" + family_id, "sk": "#", "tuid": user_id, "tsk": family_id, "d": {}},
            )
        else:
            self._tx.lock("refresh-tokens", "f#" + family_id, "#")
        return True

    def add_refresh(self, token: RefreshToken, *, after: str | None = None) -> bool:
        if _unique(self._tx, "rt#" + token.token_hash):
            return False
        if after is not None:
            predecessor = self._token_row(after)
            if predecessor is None:
                return False
            if not self._hold_family(predecessor["d"]["family_id"], token.user_id, create=False):
                return False
        else:
            self._hold_family(token.family_id, token.user_id, create=True)
        _claim_unique(self._tx, "rt#" + token.token_hash, family_id=token.family_id)
        self._tx.put(
            "refresh-tokens",
            {
                "pk": "f#" + token.family_id,
                "sk": token.token_hash,
                "d": _token_d(replace(token, used_at=None)),
            },
        )
        return True

    def claim_refresh(self, token_hash: str, now: datetime) -> bool:
        row = self._token_row(token_hash)
        if row is None:
            return False
        token = _token(row["d"])
        if token.used_at is not None:
            return False
        if not self._hold_family(token.family_id, token.user_id, create=False):
            return False
        row["d"] = _token_d(replace(token, used_at=now))
        self._tx.put("refresh-tokens", row)
        return True

    def revoke_family(self, family_id: str) -> None:
        for item in self._tx.query(_Query("refresh-tokens", "pk", "f#" + family_id)):
            self._tx.delete("refresh-tokens", item["pk"], item["sk"])
            if item["sk"] != "#":
                self._tx.delete("unique-keys", "rt#" + item["sk"], "k")

    def revoke_user(self, user_id: str) -> None:
        for family_id in self.families_of(user_id):
            self.revoke_family(family_id)

    def families_of(self, user_id: str) -> set[str]:
        q = _Query("refresh-tokens", "tuid", user_id, index="byUser", range_name="tsk")
        return {i["tsk"] for i in self._tx.query(q)}


class _EndedSessions:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def end(self, session_id: str, until: datetime) -> None:
        known = self._tx.get("ended-sessions", "ended", session_id)
        held = _time(known["d"]["until"]) if known else None
        kept = max(until, held or until)
        self._tx.put(
            "ended-sessions",
            {
                "pk": "ended",
                "sk": session_id,
                "d": {"until": _ts(kept)},
                "expiresAt": int(kept.timestamp()) + 86400,
            },
        )

    def _all(self) -> list[tuple[str, datetime]]:
        rows = self._tx.query(_Query("ended-sessions", "pk", "ended"))
        return [(i["sk"], _t_req(i["d"]["until"])) for i in rows]

    def live(self, now: datetime) -> dict[str, datetime]:
        return {k: v for k, v in self._all() if v > now}

    def forget_before(self, now: datetime) -> None:
        for key, until in self._all():
            if until <= now:
                self._tx.delete("ended-sessions", "ended", key, deferrable=True)


class _Blocks:
    def __init__(self, tx: _Tx) -> None:
        self._tx = tx

    def add(self, block: Block) -> bool:
        if self._tx.get("blocks", block.blocker_id, block.blocked_id):
            return False
        self._tx.put(
            "blocks",
            {
                "pk": block.blocker_id,
                "sk": block.blocked_id,
                "bpk": block.blocked_id,
                "bsk": block.blocker_id,
                "d": {"created_at": _ts(block.created_at)},
            },
        )
        return True

    def remove(self, blocker_id: str, blocked_id: str) -> bool:
        if not self._tx.get("blocks", blocker_id, blocked_id):
            return False
        self._tx.delete("blocks", blocker_id, blocked_id)
        return True

    def of_blocker(self, blocker_id: str) -> list[Block]:
        rows = self._tx.query(_Query("blocks", "pk", blocker_id))
        mine = [Block(blocker_id, i["sk"], _t_req(i["d"]["created_at"])) for i in rows]
        mine.sort(key=lambda b: b.blocked_id)
        mine.sort(key=lambda b: b.created_at, reverse=True)
        return mine

    def between(self, user_a: str, user_b: str) -> set[str]:
        found = self._tx.get_many("blocks", [(user_a, user_b), (user_b, user_a)])
        return {blocker for blocker, _ in found}

    def involving(self, user_id: str) -> set[str]:
        blocked = {i["sk"] for i in self._tx.query(_Query("blocks", "pk", user_id))}
        q = _Query("blocks", "bpk", user_id, index="byBlocked", range_name="bsk")
        return blocked | {i["bsk"] for i in self._tx.query(q)}


class DynamoTransaction:
    def __init__(self, core: _Tx) -> None:
        self.core = core
        self.users = _Users(core)
        self.conversations = _Conversations(core)
        self.members = _Members(core)
        self.messages = _Messages(core)
        self.attachments = _Attachments(core)
        self.reactions = _Reactions(core)
        self.log = _Log(core)
        self.sync = _Sync(core)
        self.credentials = _Credentials(core)
        self.sessions = _EndedSessions(core)
        self.blocks = _Blocks(core)


# ---- the store ------------------------------------------------------------------


def client(workers: int = 16) -> Any:
    """A DynamoDB client (thread-safe) with a connection per worker thread; the
    endpoint comes from the standard AWS_ENDPOINT_URL(_DYNAMODB) variables."""
    config = Config(
        max_pool_connections=workers * 2,
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.client("dynamodb", config=config)


class DynamoStore:
    """A `Store` in the DynamoDB tables named `prefix` + logical name (created by
    `dynamodb_tables.create_tables`, i.e. `hubbub migrate`)."""

    # Writes run on parallel threads and commit optimistically.
    commits_in_call_order = False

    def __init__(self, prefix: str, *, workers: int = 16, dynamodb: Any = None) -> None:
        self.prefix = prefix
        self.client = dynamodb if dynamodb is not None else client(workers)
        self._workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dynamodb")
        self._commit_order = _CommitOrder()
        self._closed = False
        self._locks = [threading.Lock() for _ in range(_STRIPES)]

    def _stripes(self, keys: Iterable[Key]) -> list[threading.Lock]:
        """The stripe locks of `keys`, each once, in a fixed order (no deadlock)."""
        found = sorted({zlib.crc32("\x1f".join(key).encode()) % _STRIPES for key in keys})
        return [self._locks[i] for i in found]

    async def read(self, work: Callable[[DynamoTransaction], T], *, quick: bool = False) -> T:
        if self._closed:
            raise RuntimeError("store is closed")
        run = partial(self._read, work)
        return await asyncio.get_running_loop().run_in_executor(self._workers, run)

    def _read(self, work: Callable[[DynamoTransaction], T]) -> T:
        return work(DynamoTransaction(_Tx(self, writing=False)))

    async def write(
        self,
        work: Callable[[DynamoTransaction], T],
        on_commit: Callable[[T], None] | None = None,
    ) -> T:
        if self._closed:
            raise RuntimeError("store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._workers.submit(self._write, work, on_commit, loop, future)
        return await asyncio.shield(future)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._workers.shutdown, wait=True)

    def _write(
        self,
        work: Callable[[DynamoTransaction], T],
        on_commit: Callable[[T], None] | None,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[T],
    ) -> None:
        held: list[threading.Lock] = []
        try:
            races = losses = 0
            while True:
                tx = _Tx(self, writing=True)
                try:
                    result = work(DynamoTransaction(tx))
                except _Stale as stale:
                    losses += 1
                    if losses >= _COMMIT_ATTEMPTS:
                        raise Conflict("Too many concurrent changes; try again.") from stale
                    time.sleep(random.uniform(0, 0.002 * 2 ** min(losses, 7)))
                    continue
                except LostRace as lost:
                    races += 1
                    if races >= WRITE_ATTEMPTS:
                        raise Conflict(lost.message) from lost
                    continue
                need = self._stripes(tx.written())
                if not {id(n) for n in need} <= {id(h) for h in held}:
                    waited = _swap(held, need)
                    held = need
                    if waited:
                        # Another writer of this process committed these rows while
                        # we waited: run again, now holding them.
                        continue
                actions, later, ahead, follow = tx.actions()
                if ahead:
                    self._batch(ahead, "PutRequest")
                hand_over = partial(
                    loop.call_soon_threadsafe, _settle, future, on_commit, result, None
                )
                ticket = self._commit_order.take()
                if actions:
                    try:
                        self.client.transact_write_items(TransactItems=actions)
                    except ClientError as error:
                        self._commit_order.done(ticket, None)
                        if ahead:
                            self._forget(ahead)
                        if not _lost(error):
                            raise
                        losses += 1
                        if losses >= _COMMIT_ATTEMPTS:
                            raise Conflict("Too many concurrent changes; try again.") from error
                        # Another process won: back off a little, with jitter.
                        time.sleep(random.uniform(0, 0.002 * 2 ** min(losses, 7)))
                        continue
                    except BaseException:
                        self._commit_order.done(ticket, None)
                        if ahead:
                            self._forget(ahead)
                        raise
                try:
                    # Before the hand-over: when `write` returns, all of it is done.
                    for more in follow:
                        self._follow(more)
                    if later:
                        self._clean_up(later)
                finally:
                    self._commit_order.done(ticket, hand_over)
                _swap(held, [])
                held = []
                return
        except BaseException as failure:
            _swap(held, [])
            loop.call_soon_threadsafe(_settle, future, None, None, failure)

    def _follow(self, work: Callable[[DynamoTransaction], object]) -> None:
        """Commits a follow-up transaction (`_Tx.follow_up`): small, so it always fits;
        re-run while it loses races, like any write."""
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            tx = _Tx(self, writing=True)
            work(DynamoTransaction(tx))
            actions, _, _, _ = tx.actions()
            try:
                if actions:
                    self.client.transact_write_items(TransactItems=actions)
                return
            except ClientError as error:
                if not _lost(error) or attempt == _COMMIT_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 7)))

    def _clean_up(self, keys: Sequence[Key]) -> None:
        """Deletes what did not fit in a commit (module docstring)."""
        requests = [
            {"table": self.prefix + table, "item": {"pk": {"S": pk}, "sk": {"S": sk}}}
            for table, pk, sk in keys
        ]
        self._batch(requests, "DeleteRequest")

    def _forget(self, ahead: list[dict[str, Any]]) -> None:
        """Deletes items written ahead of a commit that did not happen."""
        keys = [
            {"table": r["table"], "item": {"pk": r["item"]["pk"], "sk": r["item"]["sk"]}}
            for r in ahead
        ]
        self._batch(keys, "DeleteRequest")

    def _batch(self, requests: list[dict[str, Any]], kind: str) -> None:
        """BatchWriteItem, 25 at a time, retrying what DynamoDB left unprocessed."""
        field = "Item" if kind == "PutRequest" else "Key"
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {}
            for request in requests[start : start + 25]:
                pending.setdefault(request["table"], []).append({kind: {field: request["item"]}})
            pause = 0.01
            while pending:
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if pending:
                    time.sleep(pause)
                    pause = min(pause * 2, 1.0)


def _swap(held: list[threading.Lock], need: list[threading.Lock]) -> bool:
    """Releases `held` and takes `need` (in stripe order, so never a deadlock);
    True if it had to wait for one."""
    for lock in reversed(held):
        lock.release()
    waited = False
    for lock in need:
        if not lock.acquire(blocking=False):
            waited = True
            lock.acquire()
    return waited


def _lost(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    if code == "TransactionConflictException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    codes = {r.get("Code") for r in reasons} - {"None", None}
    # Conflicts and failed conditions are races; anything else (validation) is not.
    return not codes or codes <= {"ConditionalCheckFailed", "TransactionConflict"}
