"""Profiles and user search."""

from __future__ import annotations

import unicodedata
from dataclasses import replace

from hubbub.domain import rules
from hubbub.domain.errors import NotFound, ValidationFailed
from hubbub.domain.models import User
from hubbub.ports import Store, Transaction


class UserService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, user_id: str) -> User:
        """Any signed-in user may see another's public profile."""
        user = await self._store.read(lambda tx: tx.users.get(user_id))
        if user is None or not user.confirmed:
            raise NotFound("User not found.")
        return user

    async def update_display_name(self, user_id: str, display_name: str) -> User:
        name = rules.display_name(display_name)

        def work(tx: Transaction) -> User:
            user = tx.users.get(user_id)
            if user is None:
                raise NotFound("User not found.")
            updated = replace(user, display_name=name)
            tx.users.update(updated)
            return updated

        return await self._store.write(work)

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
