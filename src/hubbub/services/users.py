"""Profiles and user search."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import replace

from hubbub.domain import events, rules
from hubbub.domain.errors import NotFound, ValidationFailed
from hubbub.domain.events import Delivery
from hubbub.domain.models import User
from hubbub.ports import EventPublisher, Store, Transaction
from hubbub.services.access import commit


class UserService:
    def __init__(self, store: Store, publisher: EventPublisher) -> None:
        self._store = store
        self._publisher = publisher

    async def get(self, user_id: str) -> User:
        """Any signed-in user may see another's public profile."""
        user = await self._store.read(lambda tx: tx.users.get(user_id))
        if user is None or not user.confirmed:
            raise NotFound("User not found.")
        return user

    async def get_as_seen_by(self, caller_id: str, user_id: str) -> tuple[User, bool]:
        """The public profile, and whether the caller is the user or one of their
        contacts (shares a conversation with them, and neither blocked the other): only
        those see "last seen"."""

        def work(tx: Transaction) -> tuple[User | None, bool]:
            user = tx.users.get(user_id)
            if user is None or not user.confirmed:
                return None, False
            if user_id == caller_id:
                return user, True
            blocked = user_id in tx.blocks.involving(caller_id)
            return user, not blocked and tx.members.share_conversation(caller_id, user_id)

        user, contact = await self._store.read(work)
        if user is None:
            raise NotFound("User not found.")
        return user, contact

    async def update_display_name(self, user_id: str, display_name: str) -> User:
        name = rules.display_name(display_name)
        return await self.update_profile(user_id, lambda user: replace(user, display_name=name))

    async def update_profile(self, user_id: str, change: Callable[[User], User]) -> User:
        """The one way a public profile changes (the display name, and the profile
        picture through `AvatarService`): the change is written, then every contact of the user
        and the user's own other connections hear `user.updated` with the new public
        profile (without "last seen" for a contact in a block with the user). A change that
        changes nothing tells nobody."""

        def work(tx: Transaction) -> tuple[User, list[Delivery]]:
            user = tx.users.get(user_id)
            if user is None:
                raise NotFound("User not found.")
            updated = change(user)
            if updated == user:
                return user, []
            tx.users.update(updated)
            contacts = tx.members.contacts_of(user_id)
            blocked = contacts & tx.blocks.involving(user_id)  # they see the name, not when
            told = [
                Delivery(frozenset({user_id, *(contacts - blocked)}), events.user_updated(updated))
            ]
            if blocked:
                told.append(
                    Delivery(frozenset(blocked), events.user_updated(updated, as_contact=False))
                )
            return updated, told

        return await commit(self._store, self._publisher, work)

    async def search(self, caller_id: str, query: str, limit: int | None) -> list[User]:
        """Case-insensitive prefix match on the username, or on words of the display name
        (every word of the query begins one: "mar lee" finds "Ann Marie Lee"), caller
        excluded. The query is NFC-normalised like stored names, so a decomposed accent
        matches."""
        prefix = " ".join(unicodedata.normalize("NFC", query).split()).lower()
        if not prefix:
            raise ValidationFailed("q must not be empty.")
        if len(prefix) > 64:
            raise ValidationFailed("q must be at most 64 characters.")
        count = rules.page_limit(limit, default=20, maximum=50)
        if "\x00" in prefix:
            return []  # no stored name holds U+0000 (the words around it must not match)
        return await self._store.read(
            lambda tx: tx.users.search(prefix, exclude_id=caller_id, limit=count)
        )
