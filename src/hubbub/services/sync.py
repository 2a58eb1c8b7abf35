"""Catching up: what a client missed while it was away (`/api/sync`, `hello`, and the
gap fetch of one conversation's log).

A resume cursor (`s2.<id>`) names a snapshot saved on the server: for each of the
user's conversations, how far the client had come in its log (`eventSeq`) and its
read receipts (`receiptSeq`). A catch-up compares it with where each of the user's
conversations stands now, in one consistent read:
- a conversation the snapshot lacks (new, or joined again since) comes as one
  `conversation.created` with the whole conversation as it is now;
- one the user is no longer in comes as their `member.removed` (or
  `conversation.deleted` when it is gone), and nothing else of it: found by comparing
  with the snapshot, and for one the client learned of live after its cursor, in the
  user's departures (`SyncState.record_departure`);
- one that moved comes as its log entries after the snapshot's position, in order,
  each shown as it is now (a message's current body, or deleted; the current title),
  then the read markers that moved.
Positions only ever cover entries that were visible together with everything before
them (`ConversationLog`), so no entry can commit behind a saved position. The design,
its costs and the alternatives are in `docs/design/sync.md`.

Snapshots are content-addressed (the same positions give the same cursor, saved once)
and a user keeps the newest `KEEP_SNAPSHOTS`; an older or unknown cursor gets
`CursorExpired` (410), and the client reloads over REST.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hubbub.domain import events, rules
from hubbub.domain.errors import CursorExpired, ValidationFailed
from hubbub.domain.events import EventType, at_position
from hubbub.domain.models import Conversation, LogEntry, Membership, ReadMarker, Role, SyncHead
from hubbub.domain.views import JsonObject
from hubbub.ports import Clock, Store, Transaction
from hubbub.services.access import Relations, block_state, membership_of, shown_all, snapshots

# {conversationId: (eventSeq, receiptSeq)} a client has applied.
Positions = dict[str, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Place:
    """What a resume cursor stands for: the positions reached in each conversation, and
    in the user's departures (which tell of conversations the client learned of live,
    after its cursor, and left or lost since)."""

    positions: Positions
    departed: int = 0


RESUME_PREFIX = "s2."
KEEP_SNAPSHOTS = 64
_ID_LENGTH = 26  # 128 bits in lowercase base32


class SyncService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def resume_point(self, user_id: str) -> str:
        """A cursor for everything the user's conversations hold now."""
        return await self.keep(await self._store.read(lambda tx: resume_here(tx, user_id)))

    async def keep(self, resume: Resume) -> str:
        """The cursor of `resume` (from `resume_here`), saved first unless it was."""
        if not resume.saved:
            now = self._clock.now()
            await self._store.write(
                lambda tx: tx.sync.save_snapshot(
                    resume.user_id, resume.snapshot_id, resume.encoded, now, keep=KEEP_SNAPSHOTS
                )
            )
        return RESUME_PREFIX + resume.snapshot_id

    async def sync(
        self, caller_id: str, since: str | None, limit: int | None
    ) -> tuple[list[JsonObject], str, bool]:
        """Up to `limit` frames the caller missed after `since` (oldest first within
        each conversation), the cursor to resume from, and whether more remain.
        Without `since`: no frames and the current cursor."""
        count = rules.page_limit(limit, default=100, maximum=500)
        if since is None:
            return [], await self.resume_point(caller_id), False
        snapshot_id = parse_resume_cursor(since)

        def work(tx: Transaction) -> tuple[list[JsonObject], Resume, bool]:
            known = _load(tx, caller_id, snapshot_id) if snapshot_id else Place({})
            frames, place, more = _replay(tx, caller_id, known, count)
            return frames, _resume(tx, caller_id, place), more

        frames, resume, more = await self._store.read(work)
        return frames, await self.keep(resume), more

    async def events(
        self, caller_id: str, conversation_id: str, after: int, limit: int | None
    ) -> tuple[list[JsonObject], bool, int]:
        """One conversation's log after `after` (members only), shown as it is now:
        how a client fills a gap it saw in `eventSeq`. Returns (frames, hasMore,
        lastEventSeq)."""
        if after < 0:
            raise ValidationFailed("after must not be negative.")
        count = rules.page_limit(limit, default=100, maximum=500)

        def work(tx: Transaction) -> tuple[list[JsonObject], bool, int]:
            conversation, _ = membership_of(tx, conversation_id, caller_id)
            entries = tx.log.after(conversation_id, after, count + 1)
            render = _Renderer(tx, caller_id)
            frames = render.entries(entries[:count])
            return frames, len(entries) > count, conversation.last_event_seq

        return await self._store.read(work)


@dataclass(frozen=True, slots=True)
class Resume:
    """A place as a snapshot: its id, its stored form, and whether it is saved already
    (most connects and syncs find nothing new, and a read spares them a durable write)."""

    user_id: str
    snapshot_id: str
    encoded: str
    saved: bool


def resume_here(tx: Transaction, user_id: str) -> Resume:
    """Where the user's conversations stand now, as a snapshot: what `hello` hands out
    before its connection starts receiving live events (read in the caller's `tx`, so a
    connect costs one read)."""
    return resume_at(tx, user_id, tx.sync.heads(user_id))


def resume_at(tx: Transaction, user_id: str, heads: list[SyncHead]) -> Resume:
    """`resume_here` for heads the caller has read already (in `tx`)."""
    positions = {h.conversation_id: (h.last_event_seq, h.last_receipt_seq) for h in heads}
    return _resume(tx, user_id, Place(positions, tx.sync.departure_head(user_id)))


def _resume(tx: Transaction, user_id: str, place: Place) -> Resume:
    encoded = json.dumps(
        {"d": place.departed, "c": sorted(place.positions.items())}, separators=(",", ":")
    )
    digest = hashlib.sha256(f"{user_id}\n{encoded}".encode()).digest()[:16]
    snapshot_id = base64.b32encode(digest).decode().rstrip("=").lower()
    saved = tx.sync.load_snapshot(user_id, snapshot_id) is not None
    return Resume(user_id, snapshot_id, encoded, saved)


def parse_resume_cursor(raw: str) -> str | None:
    """The snapshot id of a resume cursor; None for `0` (from nothing). A decimal
    cursor of the old global log is expired; anything else is not a cursor."""
    if raw == "0":
        return None
    if raw.isascii() and raw.isdigit():
        raise CursorExpired("This cursor is from an older release: reload and sync again.")
    snapshot_id = raw.removeprefix(RESUME_PREFIX)
    valid = set("abcdefghijklmnopqrstuvwxyz234567")
    if raw == snapshot_id or len(snapshot_id) != _ID_LENGTH or not set(snapshot_id) <= valid:
        raise ValidationFailed("cursor is not valid.")
    return snapshot_id


def _load(tx: Transaction, user_id: str, snapshot_id: str) -> Place:
    stored = tx.sync.load_snapshot(user_id, snapshot_id)
    if stored is None:
        raise CursorExpired("This cursor has expired: reload and sync again.")
    place = json.loads(stored)
    positions = {str(c): (int(e), int(r)) for c, (e, r) in place["c"]}
    return Place(positions, int(place["d"]))


def _replay(
    tx: Transaction, user_id: str, place: Place, budget: int
) -> tuple[list[JsonObject], Place, bool]:
    """The frames after `place`, at most `budget` of them, and the place they bring
    the client to (section comment at the top of the module)."""
    known = place.positions
    heads = {h.conversation_id: h for h in tx.sync.heads(user_id)}
    render = _Renderer(tx, user_id)
    frames: list[JsonObject] = []
    positions: Positions = {}
    more = False
    # Departures first: they also tell of conversations the cursor never had.
    told: set[str] = set()
    departed = place.departed
    scan = budget + 100
    departures = tx.sync.departures_after(user_id, departed, scan)
    for seq, conversation_id in departures:
        if len(frames) >= budget:
            more = True
            break
        departed = seq
        if conversation_id not in heads and conversation_id not in told:
            frames.append(render.departure(conversation_id, user_id))
            told.add(conversation_id)  # (one back in it now comes whole, below)
    else:
        more = len(departures) == scan
    for conversation_id in sorted(known.keys() - heads.keys() - told):
        if len(frames) >= budget:
            positions[conversation_id] = known[conversation_id]
            more = True
        else:
            frames.append(render.departure(conversation_id, user_id))
    arriving = [
        head
        for conversation_id, head in sorted(heads.items())
        if conversation_id not in known or known[conversation_id][0] < head.joined_event_seq
    ]
    render.prefetch_arrivals(arriving[: max(budget - len(frames), 0)])
    for conversation_id, head in sorted(heads.items()):
        mine = known.get(conversation_id)
        if len(frames) >= budget:
            if mine is not None:
                positions[conversation_id] = mine
            more = True
            continue
        if mine is None or mine[0] < head.joined_event_seq:
            frames.append(render.arrival(head))
            positions[conversation_id] = (head.last_event_seq, head.last_receipt_seq)
            continue
        event_seq, receipt_seq = mine
        if event_seq < head.last_event_seq:
            entries = tx.log.after(conversation_id, event_seq, budget - len(frames))
            frames.extend(render.entries(entries))
            event_seq = entries[-1].event_seq if entries else event_seq
        room = budget - len(frames)
        if event_seq >= head.last_event_seq and receipt_seq < head.last_receipt_seq and room:
            markers = tx.log.read_markers_after(conversation_id, receipt_seq, room)
            frames.extend(render.receipts(conversation_id, markers))
            receipt_seq = head.last_receipt_seq if len(markers) < room else markers[-1].receipt_seq
        positions[conversation_id] = (event_seq, receipt_seq)
        if event_seq < head.last_event_seq or receipt_seq < head.last_receipt_seq:
            more = True
    return frames, Place(positions, departed), more


class _Renderer:
    """Shows log entries as the frames the WebSocket sends, as things are now, to
    `viewer_id` (a direct chat's block state is each member's own)."""

    def __init__(self, tx: Transaction, viewer_id: str) -> None:
        self._tx = tx
        self._viewer_id = viewer_id
        self._relations: Relations | None = None
        # Read ahead in a few queries for a whole batch (`prefetch_arrivals`,
        # `entries`) rather than a few per item.
        self._wholes: dict[str, JsonObject] = {}
        self._views: dict[tuple[str, str], JsonObject | None] = {}

    def prefetch_arrivals(self, heads: Sequence[SyncHead]) -> None:
        """Reads the conversations these heads will arrive whole, all at once."""
        found = self._tx.conversations.get_many([h.conversation_id for h in heads])
        conversations = [found[h.conversation_id] for h in heads if h.conversation_id in found]
        for conversation, whole in zip(conversations, self._wholes_of(conversations), strict=True):
            self._wholes[conversation.id] = whole

    def arrival(self, head: SyncHead) -> JsonObject:
        whole = self._wholes.get(head.conversation_id)
        if whole is None:
            conversation = self._tx.conversations.get(head.conversation_id)
            assert conversation is not None  # read in the same snapshot as `head`
            whole = self._whole(conversation)
        payload: JsonObject = {"type": EventType.CONVERSATION_CREATED.value, "conversation": whole}
        frame = at_position(payload, head.conversation_id, head.last_event_seq)
        # Not an entry of the log: an id of its own, so it never hides the entry at
        # that position from a client dropping duplicates.
        frame["cursor"] = f"{head.conversation_id}:j{head.last_event_seq}"
        return frame

    def _whole(self, conversation: Conversation) -> JsonObject:
        """The shared view (the client fills in its read state) with the viewer's own
        block state."""
        return self._wholes_of([conversation])[0]

    def _wholes_of(self, conversations: Sequence[Conversation]) -> list[JsonObject]:
        if not conversations:
            return []
        if self._relations is None:
            self._relations = Relations.of(self._tx, self._viewer_id)
        relations, viewer = self._relations, self._viewer_id
        return [
            {**shared, **block_state(self._tx, conversation, viewer, relations)}
            for conversation, shared in zip(
                conversations,
                snapshots(self._tx, conversations, None, with_blocks=False),
                strict=True,
            )
        ]

    def entries(self, entries: Sequence[LogEntry]) -> list[JsonObject]:
        """The frames of these entries (those with something left to show), reading
        the messages they refer to in a fixed number of queries."""
        keys = [
            (e.conversation_id, e.message_id)
            for e in entries
            if e.message_id is not None and (e.conversation_id, e.message_id) not in self._views
        ]
        if keys:
            messages = self._tx.messages.get_many(keys)
            self._views.update(dict.fromkeys(keys))  # gone unless found below
            for message, view in zip(messages, shown_all(self._tx, messages), strict=True):
                self._views[(message.conversation_id, message.id)] = view
        return [f for f in map(self.entry, entries) if f is not None]

    def _message(self, conversation_id: str, message_id: str) -> JsonObject | None:
        """A message as it is now (None when it is gone)."""
        key = (conversation_id, message_id)
        if key not in self._views:
            found = self._tx.messages.get(conversation_id, message_id)
            self._views[key] = shown_all(self._tx, [found])[0] if found else None
        return self._views[key]

    def departure(self, conversation_id: str, user_id: str) -> JsonObject:
        removal = (
            self._tx.log.last_removal(conversation_id, user_id)
            if self._tx.conversations.get(conversation_id)
            else None
        )
        if removal is not None:
            frame = self.entry(removal)
            if frame is not None:
                return frame
        return {
            "type": EventType.CONVERSATION_DELETED.value,
            "conversationId": conversation_id,
            "cursor": f"{conversation_id}:gone",
        }

    def entry(self, entry: LogEntry) -> JsonObject | None:
        """The frame of one entry; None for one that has nothing left to show."""
        payload = self._payload(entry)
        return (
            None
            if payload is None
            else at_position(payload, entry.conversation_id, entry.event_seq)
        )

    def receipts(self, conversation_id: str, markers: Iterable[ReadMarker]) -> list[JsonObject]:
        return [
            events.read_receipt(conversation_id, m.user_id, m.read_seq, m.receipt_seq)
            for m in markers
        ]

    def _payload(self, entry: LogEntry) -> JsonObject | None:
        tx, conversation_id = self._tx, entry.conversation_id
        if entry.type in (EventType.REACTION_ADDED, EventType.REACTION_REMOVED):
            reacted = self._message(conversation_id, entry.message_id or "")
            if reacted is None:
                return None
            reactions = reacted["reactions"]
            assert isinstance(reactions, list)
            return events.reaction_changed(
                entry.type == EventType.REACTION_ADDED,
                conversation_id,
                str(reacted["id"]),
                entry.actor_id or "",
                str(entry.detail.get("emoji", "")),
                reactions,
            )
        if entry.message_id is not None:
            message = self._message(conversation_id, entry.message_id)
            return None if message is None else {"type": entry.type, "message": message}
        if entry.type == EventType.CONVERSATION_CREATED:
            conversation = tx.conversations.get(conversation_id)
            if conversation is None:
                return None
            return {"type": entry.type, "conversation": self._whole(conversation)}
        if entry.type == EventType.CONVERSATION_UPDATED:
            conversation = tx.conversations.get(conversation_id)
            if conversation is None:
                return None
            if entry.detail.get("fields") == events.BLOCK_FIELDS:
                state = block_state(tx, conversation, self._viewer_id)
                return events.block_changed(conversation_id, entry.actor_id or "", state)
            return events.renamed(
                conversation_id, entry.actor_id or "", conversation.title, entry.at
            )
        if entry.type == EventType.MEMBER_ADDED and entry.subject_id is not None:
            user = tx.users.get(entry.subject_id)
            if user is None:
                return None
            role, read_seq = entry.detail.get("role"), entry.detail.get("readSeq")
            joined = Membership(
                conversation_id,
                entry.subject_id,
                Role(str(role)) if role else Role.MEMBER,
                entry.at,
                read_seq if isinstance(read_seq, int) else 0,
            )
            return events.member_added(joined, user, entry.at, entry.actor_id)
        if entry.type == EventType.MEMBER_REMOVED and entry.subject_id is not None:
            owner = entry.detail.get("ownerId")
            return events.member_removed(
                conversation_id,
                entry.subject_id,
                str(owner) if owner else None,
                entry.at,
                entry.actor_id,
            )
        return None
