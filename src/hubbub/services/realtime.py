"""Connections, presence and typing: the ephemeral side of real time."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from hubbub.domain import events
from hubbub.domain.events import Delivery, EventType
from hubbub.domain.views import JsonObject, mute_view
from hubbub.ports import Clock, EventPublisher, PresenceTracker, Store, Transaction
from hubbub.services.access import block_state, member_ids, membership_of
from hubbub.services.sync import Resume, SyncService, resume_at


class RealtimeService:
    def __init__(
        self,
        store: Store,
        publisher: EventPublisher,
        presence: PresenceTracker,
        sync: SyncService,
        clock: Clock,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._presence = presence
        self._sync = sync
        self._clock = clock

    async def claim(self, user_id: str, connection_id: str, limit: int) -> bool:
        """Takes one of the user's `limit` connection slots (on every process) for a
        handshake; `disconnected` gives it back."""
        return await self._presence.claim(user_id, connection_id, limit)

    async def connected(
        self, user_id: str, connection_id: str
    ) -> tuple[JsonObject, dict[str, int]]:
        """Marks the claimed connection live and returns the `hello` frame, with where
        each of the user's conversations stood (its last `eventSeq`) when the hello's
        cursor was read; the user's contacts hear `presence online` when this is their
        first connection. `muted` holds the user's mutes in force, so a device that
        missed a `conversation.muted` while away knows them again."""
        came_online = await self._presence.connected(user_id, connection_id)

        def work(tx: Transaction) -> tuple[set[str], Resume, dict[str, int], JsonObject]:
            heads = tx.sync.heads(user_id)
            positions = {h.conversation_id: h.last_event_seq for h in heads}
            now = self._clock.now()
            mutes = {h.conversation_id: mute_view(h.muted_until, now) for h in heads}
            muted: JsonObject = {c: v["mutedUntil"] for c, v in mutes.items() if v["muted"]}
            contacts = _visible_contacts(tx, user_id)
            return contacts, resume_at(tx, user_id, heads), positions, muted

        contacts, resume, heads, muted = await self._store.read(work)
        cursor = await self._sync.keep(resume)
        online = sorted(await self._presence.online(sorted(contacts)))
        if came_online:
            await self._announce(user_id, online, online=True)
        hello: JsonObject = {
            "type": "hello",
            "userId": user_id,
            "connectionId": connection_id,
            "cursor": cursor,
            "online": online,
            "muted": muted,
        }
        return hello, heads

    async def disconnected(self, user_id: str, connection_id: str) -> None:
        if await self._presence.disconnected(user_id, connection_id):
            await self._went_offline(user_id)

    async def keep_alive(self, connections: Collection[tuple[str, str]]) -> None:
        """Renews this process's connection leases, then ends the connections of
        processes that stopped renewing theirs (they died): their users' contacts hear
        `presence offline`, once, from whichever process noticed first."""
        await self._presence.renew(connections)
        for user_id in await self._presence.expired():
            await self._went_offline(user_id)

    async def typing(self, user_id: str, conversation_id: str, is_typing: bool) -> None:
        """Tells the other members; not stored, so never replayed by /api/sync. In a
        direct chat where either blocked the other nobody is told (nobody can send)."""

        def work(tx: Transaction) -> list[str]:
            conversation, _ = membership_of(tx, conversation_id, user_id)
            if not block_state(tx, conversation, user_id)["canSend"]:
                return []
            return [m for m in member_ids(tx, conversation_id) if m != user_id]

        others = await self._store.read(work)
        if not others:
            return
        frame: JsonObject = {
            "type": EventType.TYPING.value,
            "conversationId": conversation_id,
            "userId": user_id,
            "isTyping": is_typing,
        }
        await self._publisher.publish([Delivery(frozenset(others), frame)])

    async def _went_offline(self, user_id: str) -> None:
        """Records when the user was last seen (their last connection closed now, or its
        lease ran out: then up to one lease late), and tells their contacts, with it
        (not those they blocked or were blocked by)."""
        at = self._clock.now()

        def work(tx: Transaction) -> set[str]:
            tx.users.set_last_seen(user_id, at)
            return _visible_contacts(tx, user_id)

        contacts = await self._store.write(work)
        listening = await self._presence.online(sorted(contacts)) if contacts else []
        await self._announce(user_id, listening, online=False, last_seen_at=at)

    async def _announce(
        self,
        user_id: str,
        contacts: Collection[str],
        *,
        online: bool,
        last_seen_at: datetime | None = None,
    ) -> None:
        """Tells `contacts`, which the callers narrow to those online now: presence is
        neither stored nor replayed (whoever connects later reads who is online in its
        `hello`), so a contact without a connection has nothing to receive it, and a
        big group's presence costs the fan-out its online members, not all of them.
        The callers read who is online after recording this user's change, as
        `connected` records a connection before its `hello` reads the others: of two
        contacts connecting at once, at least one sees the other, either way."""
        if contacts:
            frame = events.presence(user_id, online=online, last_seen_at=last_seen_at)
            await self._publisher.publish([Delivery(frozenset(contacts), frame)])


def _visible_contacts(tx: Transaction, user_id: str) -> set[str]:
    """Whom the user's presence is told to, and whose they are told: everyone they
    share a conversation with, except those they blocked or were blocked by."""
    return tx.members.contacts_of(user_id) - tx.blocks.involving(user_id)
