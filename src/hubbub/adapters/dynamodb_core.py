"""The DynamoDB store's transaction core: items, versions, buffered writes and the
one `TransactWriteItems` a run commits (`hubbub.adapters.dynamodb` explains the design;
`dynamodb_repos` builds the repositories on it)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from hubbub.domain.models import (
    Attachment,
    Conversation,
    ConversationKind,
    LogEntry,
    Membership,
    Message,
    Role,
    User,
)
from hubbub.ports import Credential, LostRace, RefreshToken


class Tables(Protocol):
    """Where a run's reads and writes go: the client and the tables' name prefix."""

    prefix: str
    client: Any


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


def _t_req(text: str) -> datetime:
    """A time stored by `_ts`, read back (UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _time(text: str | None) -> datetime | None:
    return None if text is None else _t_req(text)


def _t(moment: datetime) -> datetime:
    """`moment` as it will read back once stored (microseconds, UTC)."""
    return _t_req(_ts(moment))


def _pad(n: int) -> str:
    return f"{n:012d}"


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

    def __init__(self, store: Tables, *, writing: bool) -> None:
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
        self._follow_ups: list[tuple[list[Key], Callable[[Any], object]]] = []
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

    def follow_up(self, keys: Sequence[Key], work: Callable[[Any], object]) -> None:
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
        list[Callable[[Any], object]],
    ]:
        """The TransactWriteItems actions; then, only when everything would not fit in
        one transaction: the deletes left for after the commit, the fresh items to write
        ahead of it, and the follow-up transactions to run after it (module docstring)."""
        actions: list[dict[str, Any]] = []
        later: list[Key] = []
        ahead: list[dict[str, Any]] = []
        follow: list[Callable[[Any], object]] = []
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
