"""Unit tests run the services on the in-memory adapters, with a clock we control."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from hubbub.adapters.local_hub import LocalHub
from hubbub.adapters.local_identity import LocalIdentity
from hubbub.adapters.local_sessions import StoredSessions
from hubbub.adapters.memory import (
    MemoryRateLimiter,
    MemoryStore,
    MemoryTicketStore,
    RecordingPublisher,
)
from hubbub.adapters.system import UlidGenerator
from hubbub.services.auth import AuthService
from hubbub.services.conversations import ConversationService
from hubbub.services.messages import MessageService

KEY = b"k" * 32


class ManualClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 5, 1, 12, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@dataclass
class CapturingCodeSender:
    codes: dict[str, str] = field(default_factory=dict)

    async def send(self, email: str, username: str, code: str) -> None:
        self.codes[username] = code


@dataclass
class World:
    clock: ManualClock
    store: MemoryStore
    published: RecordingPublisher
    codes: CapturingCodeSender
    identity: LocalIdentity
    auth: AuthService
    conversations: ConversationService
    messages: MessageService


@pytest.fixture
def world() -> World:
    clock = ManualClock()
    store = MemoryStore()
    published = RecordingPublisher()
    codes = CapturingCodeSender()
    ids = UlidGenerator()
    identity = LocalIdentity(
        store,
        clock,
        signing_key=KEY,
        code_sender=codes,
        hasher=PasswordHasher(memory_cost=1024, time_cost=1),
    )
    return World(
        clock=clock,
        store=store,
        published=published,
        codes=codes,
        identity=identity,
        auth=AuthService(
            store,
            identity,
            MemoryTicketStore(),
            MemoryRateLimiter(),
            ids,
            clock,
            sessions=StoredSessions(store, clock),
            connections=LocalHub(),
        ),
        conversations=ConversationService(store, published, ids, clock),
        messages=MessageService(store, published, ids, clock),
    )
