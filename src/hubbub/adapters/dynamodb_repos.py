"""The DynamoDB store's repositories: each port's methods as reads and buffered writes
of the run's `_Tx` (`hubbub.adapters.dynamodb` explains the tables and the design)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from hubbub.adapters.dynamodb_core import (
    Item,
    _attachment,
    _attachment_d,
    _conv,
    _conv_d,
    _credential,
    _credential_d,
    _entry,
    _entry_d,
    _member,
    _member_d,
    _message,
    _message_d,
    _pad,
    _Query,
    _Stale,
    _t,
    _t_req,
    _time,
    _token,
    _token_d,
    _ts,
    _Tx,
    _user,
    _user_d,
)
from hubbub.domain import search
from hubbub.domain.errors import Conflict, SearchUnavailable
from hubbub.domain.models import (
    Attachment,
    Block,
    Conversation,
    LogEntry,
    Membership,
    Message,
    Reaction,
    ReadMarker,
    Role,
    SyncHead,
    User,
)
from hubbub.ports import Credential, LostRace, RefreshToken

# ---- repositories ---------------------------------------------------------------


def _unique(tx: _Tx, key: str) -> Item | None:
    return tx.get("unique-keys", key, "k")


def _claim_unique(tx: _Tx, key: str, **refs: Any) -> None:
    tx.put("unique-keys", {"pk": key, "sk": "k", "d": refs})


def _conversations_of(tx: _Tx, user_id: str) -> list[str]:
    """The ids of the conversations `user_id` is a member of (the byUser index)."""
    q = _Query("conversation-members", "uid", user_id, index="byUser", range_name="cid")
    return [i["cid"] for i in tx.query(q)]


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
        mine = list(self.get_many(_conversations_of(self._tx, user_id)).values())
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

    def share_conversation(self, user_id: str, other_id: str) -> bool:
        mine = _conversations_of(self._tx, user_id)
        found = self._tx.get_many("conversation-members", ((c, other_id) for c in mine))
        return bool(found)

    def contacts_of(self, user_id: str) -> set[str]:
        contacts: set[str] = set()
        for conversation_id in _conversations_of(self._tx, user_id):
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
        self._put(current.deleted_at(at))
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
