"""Unit tests run the services on the in-memory adapters, with a clock we control."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from hubbub.adapters.memory import MemoryStore, RecordingPublisher
from hubbub.bootstrap import Platform, build
from hubbub.config import Settings
from hubbub.ports import CodePurpose
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

    async def send(
        self, email: str, username: str, code: str, *, purpose: CodePurpose = "confirmation"
    ) -> None:
        self.codes[username] = code


# The in-memory store, confirmation codes on, a cheap password hash.
SETTINGS = Settings(
    store="memory",
    token_secret=KEY.decode(),
    confirmation="console",
    password_hash_memory_kib=1024,
)


@dataclass
class World:
    """The platform as `bootstrap.build` wires it, with the outside world faked."""

    platform: Platform
    clock: ManualClock
    published: RecordingPublisher
    codes: CapturingCodeSender

    @property
    def auth(self) -> AuthService:
        return self.platform.auth

    @property
    def conversations(self) -> ConversationService:
        return self.platform.conversations

    @property
    def messages(self) -> MessageService:
        return self.platform.messages

    @property
    def store(self) -> MemoryStore:
        assert isinstance(self.platform.store, MemoryStore)
        return self.platform.store


def make_world(settings: Settings = SETTINGS) -> World:
    clock, published, codes = ManualClock(), RecordingPublisher(), CapturingCodeSender()
    platform = build(settings, clock=clock, code_sender=codes, publisher=published)
    return World(platform, clock, published, codes)


@pytest.fixture
def world() -> World:
    return make_world()
